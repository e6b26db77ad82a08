package dev.quarry.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quarry.engine.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header mapping each tensor name to {dtype, shape, data_offsets}, then the raw
 * little-endian data. Quarry stores every parameter under its name ("conv0.weight", ...), batch-norm running
 * statistics as "buffer.<i>" in module order, optimizer state under its own names ("adam.m.conv0.weight", ...),
 * and in "__metadata__" the optimizer step count plus any caller strings. Weights keep Quarry's layouts
 * (conv [cout][kh][kw][cin], NHWC models); conversion to PyTorch's OIHW happens only in import/export tools.
 */
public final class Checkpoint {
    private Checkpoint() {}

    /** Every tensor a checkpoint of this model (and optimizer, if not null) holds, by name. */
    static Map<String, Tensor> entries(Module model, Optimizer opt) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (Param p : model.params())
            if (all.put(p.name(), p.value()) != null) throw new IllegalStateException("two parameters are named " + p.name());
        List<Tensor> buffers = model.buffers();
        for (int i = 0; i < buffers.size(); i++) all.put("buffer." + i, buffers.get(i));
        if (opt != null)
            for (Map.Entry<String, Tensor> e : opt.state().entrySet())
                if (all.put(e.getKey(), e.getValue()) != null) throw new IllegalStateException("duplicate name " + e.getKey());
        return all;
    }

    /** Writes the checkpoint atomically (a temporary file renamed into place). */
    public static void save(Path path, Module model, Optimizer opt, Map<String, String> metadata) throws IOException {
        Map<String, Tensor> all = entries(model, opt);
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        metadata.forEach(meta::put);
        if (opt != null) meta.put("optimizer_steps", Long.toString(opt.steps()));
        long offset = 0;
        for (Map.Entry<String, Tensor> e : all.entrySet()) {
            Tensor t = e.getValue();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", "F32");
            n.putPOJO("shape", t.shape());
            long bytes = t.numel() * 4;
            n.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] head = json.writeValueAsBytes(header);
        int pad = (8 - head.length % 8) % 8; // the format aligns the data to 8 bytes with spaces
        byte[] padded = Arrays.copyOf(head, head.length + pad);
        Arrays.fill(padded, head.length, padded.length, (byte) ' ');
        Path tmp = path.resolveSibling("." + path.getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).array());
            out.write(padded);
            for (Tensor t : all.values()) {
                float[] v = t.toFloats();
                ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(v);
                out.write(b.array());
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The metadata of a checkpoint, without loading its tensors. */
    public static Map<String, String> metadata(Path path) throws IOException {
        byte[] head = new byte[8];
        try (java.io.InputStream in = Files.newInputStream(path)) {
            if (in.readNBytes(head, 0, 8) < 8) throw new IOException(path + ": too short for a safetensors file");
            long headLen = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headLen <= 0 || headLen > Files.size(path) - 8) throw new IOException(path + ": bad header length " + headLen);
            JsonNode m = new ObjectMapper().readTree(new String(in.readNBytes((int) headLen), StandardCharsets.UTF_8)).get("__metadata__");
            Map<String, String> meta = new LinkedHashMap<>();
            if (m != null)
                for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    meta.put(f.getKey(), f.getValue().asText());
                }
            return meta;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException(path + ": no such file");
        }
    }

    /**
     * Loads a checkpoint into an already-built model (and optimizer): every tensor the model expects must be
     * present with the same shape. Returns the metadata.
     */
    public static Map<String, String> load(Path path, Module model, Optimizer opt) throws IOException {
        byte[] file = Files.readAllBytes(path);
        if (file.length < 8) throw new IOException(path + ": too short for a safetensors file");
        long headLen = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headLen <= 0 || headLen > file.length - 8) throw new IOException(path + ": bad header length " + headLen);
        JsonNode header;
        try {
            header = new ObjectMapper().readTree(new String(file, 8, (int) headLen, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException(path + ": unreadable header (" + e.getMessage() + ")");
        }
        long dataStart = 8 + headLen;
        Map<String, Tensor> want = entries(model, opt);
        for (Map.Entry<String, Tensor> e : want.entrySet()) {
            JsonNode n = header.get(e.getKey());
            if (n == null) throw new IOException(path + ": missing tensor " + e.getKey());
            int[] shape = new int[n.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
            if (!"F32".equals(n.get("dtype").asText()) || !Arrays.equals(shape, e.getValue().shape()))
                throw new IOException(path + ": " + e.getKey() + " is " + n.get("dtype").asText() + Arrays.toString(shape)
                        + ", the model needs F32" + Arrays.toString(e.getValue().shape()));
            long begin = n.get("data_offsets").get(0).asLong(), end = n.get("data_offsets").get(1).asLong();
            if (begin < 0 || end - begin != e.getValue().numel() * 4 || dataStart + end > file.length)
                throw new IOException(path + ": " + e.getKey() + " has bad data offsets [" + begin + ", " + end + ") (truncated file?)");
            float[] v = new float[(int) e.getValue().numel()];
            ByteBuffer.wrap(file, (int) (dataStart + begin), (int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            e.getValue().upload(v);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        JsonNode m = header.get("__metadata__");
        if (m != null)
            for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                meta.put(f.getKey(), f.getValue().asText());
            }
        if (opt != null) opt.setSteps(Long.parseLong(meta.getOrDefault("optimizer_steps", "0")));
        return meta;
    }
}
