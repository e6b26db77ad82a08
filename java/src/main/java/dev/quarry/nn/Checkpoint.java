package dev.quarry.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quarry.engine.Tensor;
import dev.quarry.util.BadInputException;
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
import java.util.zip.CRC32;

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

    /** The __metadata__ key holding the CRC-32 of the data section (8 lowercase hex digits), written by {@link #save}. */
    public static final String CRC_KEY = "quarry_data_crc32";
    /** The safetensors reference implementation refuses headers above 100 MB; so does Quarry. */
    private static final long MAX_HEADER = 100_000_000L;

    /**
     * Writes the checkpoint atomically (a temporary file renamed into place). The metadata carries the CRC-32 of
     * the data section under {@link #CRC_KEY}, which {@link #load} verifies.
     */
    public static void save(Path path, Module model, Optimizer opt, Map<String, String> metadata) throws IOException {
        Map<String, Tensor> all = entries(model, opt);
        List<byte[]> data = new java.util.ArrayList<>();
        CRC32 crc = new CRC32();
        for (Tensor t : all.values()) {
            float[] v = t.toFloats();
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            data.add(b.array());
            crc.update(b.array());
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        metadata.forEach(meta::put);
        if (opt != null) meta.put("optimizer_steps", Long.toString(opt.steps()));
        meta.put(CRC_KEY, String.format("%08x", crc.getValue()));
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
            for (byte[] b : data) out.write(b);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The metadata of a checkpoint, without loading its tensors (the header is checked, the data is not). */
    public static Map<String, String> metadata(Path path) throws IOException {
        if (!Files.isRegularFile(path)) throw new BadInputException(path + ": no such file");
        long size = Files.size(path);
        try (java.io.InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(8);
            long headLen = headerLength(path, head, size);
            byte[] text = in.readNBytes((int) headLen);
            if (text.length != headLen) throw new BadInputException(path + ": truncated safetensors header");
            return metadata(path, parseHeader(path, text, 0, (int) headLen));
        }
    }

    /** The header length field, checked against the file's size. */
    private static long headerLength(Path path, byte[] first8, long size) throws IOException {
        if (first8.length < 8 || size < 8) throw new BadInputException(path + ": too short for a safetensors file (" + size + " bytes)");
        long headLen = ByteBuffer.wrap(first8, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headLen < 2 || headLen > size - 8 || headLen > MAX_HEADER)
            throw new BadInputException(path + ": bad safetensors header length " + headLen + " for a file of " + size + " bytes (truncated or not safetensors?)");
        return headLen;
    }

    private static ObjectNode parseHeader(Path path, byte[] b, int off, int len) throws IOException {
        JsonNode header;
        try {
            header = new ObjectMapper().readTree(new String(b, off, len, StandardCharsets.UTF_8));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BadInputException(path + ": unreadable safetensors header (" + BadInputException.oneLine(e.getOriginalMessage()) + ")");
        }
        if (!(header instanceof ObjectNode o)) throw new BadInputException(path + ": the safetensors header is not a JSON object");
        return o;
    }

    private static Map<String, String> metadata(Path path, ObjectNode header) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        JsonNode m = header.get("__metadata__");
        if (m == null) return meta;
        if (!m.isObject()) throw new BadInputException(path + ": __metadata__ is not a JSON object");
        for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) throw new BadInputException(path + ": __metadata__ value of " + f.getKey() + " is not a string");
            meta.put(f.getKey(), f.getValue().asText());
        }
        return meta;
    }

    /**
     * Loads a checkpoint into an already-built model (and optimizer): every tensor the model expects must be
     * present with the same shape, inside the file, and finite; the data's CRC-32 must match when the file carries
     * one. Everything is checked before the first tensor is uploaded, so a refused file leaves the model as it was.
     * Refusals are {@link BadInputException}s. Returns the metadata.
     */
    public static Map<String, String> load(Path path, Module model, Optimizer opt) throws IOException {
        if (!Files.isRegularFile(path)) throw new BadInputException(path + ": no such file");
        long size = Files.size(path);
        if (size > Integer.MAX_VALUE - 8) throw new BadInputException(path + ": " + size + " bytes is too large for a Quarry checkpoint");
        byte[] file = Files.readAllBytes(path);
        long headLen = headerLength(path, file, file.length);
        ObjectNode header = parseHeader(path, file, 8, (int) headLen);
        Map<String, String> meta = metadata(path, header);
        int dataStart = 8 + (int) headLen;
        long dataBytes = file.length - dataStart;
        long steps = 0;
        if (opt != null && meta.containsKey("optimizer_steps")) {
            try {
                steps = Long.parseLong(meta.get("optimizer_steps"));
            } catch (NumberFormatException e) {
                steps = -1;
            }
            if (steps < 0) throw new BadInputException(path + ": bad optimizer_steps '" + meta.get("optimizer_steps") + "'");
        }
        Map<String, Tensor> want = entries(model, opt);
        List<long[]> spans = new java.util.ArrayList<>();
        for (Map.Entry<String, Tensor> e : want.entrySet()) {
            String name = e.getKey();
            int[] need = e.getValue().shape();
            JsonNode n = header.get(name);
            if (n == null) throw new BadInputException(path + ": missing tensor " + name);
            JsonNode dtype = n.get("dtype"), shapeNode = n.get("shape"), offsets = n.get("data_offsets");
            if (dtype == null || !dtype.isTextual() || shapeNode == null || !shapeNode.isArray() || offsets == null || !offsets.isArray()
                    || offsets.size() != 2 || !offsets.get(0).canConvertToLong() || !offsets.get(0).isIntegralNumber()
                    || !offsets.get(1).canConvertToLong() || !offsets.get(1).isIntegralNumber())
                throw new BadInputException(path + ": malformed header entry for " + name + " (needs dtype, shape and two data_offsets)");
            int[] shape = new int[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.isIntegralNumber() || !d.canConvertToInt() || d.asInt() < 0)
                    throw new BadInputException(path + ": " + name + " has a malformed shape " + BadInputException.oneLine(shapeNode.toString()));
                shape[i] = d.asInt();
            }
            if (!"F32".equals(dtype.asText()) || !Arrays.equals(shape, need))
                throw new BadInputException(path + ": " + name + " is " + dtype.asText() + Arrays.toString(shape) + ", the model needs F32"
                        + Arrays.toString(need) + " (a checkpoint of another model?)");
            long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong(), bytes = e.getValue().numel() * 4;
            if (begin < 0 || end < begin || end - begin != bytes || end > dataBytes)
                throw new BadInputException(path + ": " + name + " has bad data offsets [" + begin + ", " + end + ") for " + bytes
                        + " bytes of data in a data section of " + dataBytes + " (truncated file?)");
            spans.add(new long[] {begin, bytes});
        }
        // the layout fits the model and the file: now the data itself
        String crcText = meta.get(CRC_KEY);
        if (crcText != null) {
            if (!crcText.matches("[0-9a-f]{8}")) throw new BadInputException(path + ": malformed " + CRC_KEY + " '" + crcText + "' in __metadata__");
            CRC32 crc = new CRC32();
            crc.update(file, dataStart, (int) dataBytes);
            if (crc.getValue() != Long.parseLong(crcText, 16))
                throw new BadInputException(path + ": checksum mismatch (CRC-32 of the data is " + String.format("%08x", crc.getValue())
                        + ", the header says " + crcText + "): the file is damaged");
        }
        List<float[]> values = new java.util.ArrayList<>();
        int k = 0;
        for (String name : want.keySet()) {
            long[] span = spans.get(k++);
            float[] v = new float[(int) (span[1] / 4)];
            ByteBuffer.wrap(file, (int) (dataStart + span[0]), (int) span[1]).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            for (int i = 0; i < v.length; i++)
                if (!Float.isFinite(v[i])) throw new BadInputException(path + ": " + name + " holds " + v[i] + " at element " + i + ": the weights are damaged");
            values.add(v);
        }
        int i = 0;
        for (Tensor t : want.values()) t.upload(values.get(i++));
        if (opt != null) opt.setSteps(steps);
        return meta;
    }
}
