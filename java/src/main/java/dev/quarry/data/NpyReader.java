package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * .npy input (format versions 1 to 3), read here rather than through org.jetbrains.bio:npy: that library maps the
 * file in a loop that never ends when the data is not a whole number of elements (a truncated or damaged file), and
 * pads short files with zeros. This reader parses the header itself, checks the magic, C order, a dtype the caller
 * accepts, and that the file's length is exactly the header plus the data its shape promises, all before anything
 * is allocated or read; then it reads the data with plain channel reads. Every refusal is a
 * {@link BadInputException} whose one-line message starts with the file's path.
 */
public final class NpyReader {
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");
    /** numpy itself allows 64 dimensions. */
    private static final int MAX_RANK = 64;
    /** The largest Java array. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private NpyReader() {}

    /**
     * A C-order array. {@code dtype} is the little-endian type code without its byte-order mark ("f4", "f8", "i8",
     * "u1"); {@code data} is float[], double[], long[] or byte[] (u1 values are unsigned: read them with & 0xff).
     */
    public record Array(String dtype, int[] shape, Object data) {
        public long count() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }
    }

    /** Reads {@code path}, refusing any dtype outside {@code dtypes} (codes as in {@link Array#dtype}). */
    public static Array read(Path path, String... dtypes) throws IOException {
        if (!Files.isRegularFile(path)) throw new BadInputException(path + ": no such file");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            long[] dataStart = new long[1];
            String dict = header(path, ch, size, dataStart);
            Matcher fortran = FORTRAN.matcher(dict), descr = DESCR.matcher(dict), shapeM = SHAPE.matcher(dict);
            if (!dict.startsWith("{") || !fortran.find() || !descr.find() || !shapeM.find())
                throw new BadInputException(path + ": not a readable .npy file (header without descr, fortran_order or shape)");
            if (fortran.group(1).equals("True")) throw new BadInputException(path + ": Fortran-order arrays are not supported; save it in C order");
            String dtype = canonical(descr.group(1));
            if (!List.of(dtypes).contains(dtype))
                throw new BadInputException(path + ": dtype '" + printable(descr.group(1)) + "' is not supported here (expected "
                        + String.join(" or ", dtypes) + ")");
            int item = Integer.parseInt(dtype.substring(1));
            int[] shape = shape(path, shapeM.group(1));
            long count = 1;
            for (int d : shape) {
                count *= d; // each d < 2^31 and count <= MAX_ELEMENTS before this step: no overflow
                if (count > MAX_ELEMENTS) throw new BadInputException(path + ": shape " + shapeM.group(1).strip() + " is too large to read");
            }
            long want = dataStart[0] + count * item;
            if (size != want)
                throw new BadInputException(path + ": truncated or padded .npy: " + size
                        + " bytes, the header promises " + want + " (" + dataStart[0] + " of header and " + count + " x " + item + " of data)");
            return new Array(dtype, shape, data(path, ch, dataStart[0], dtype, (int) count));
        }
    }

    /** "<f4" -> "f4"; a single-byte type has no byte order ("|u1" -> "u1"); big-endian codes stay as they are. */
    private static String canonical(String descr) {
        if (descr.length() > 1 && (descr.charAt(0) == '<' || descr.charAt(0) == '|')) return descr.substring(1);
        if (descr.length() > 1 && descr.charAt(0) == '>' && descr.endsWith("1")) return descr.substring(1);
        return descr;
    }

    private static String printable(String s) {
        String t = s.length() > 40 ? s.substring(0, 40) + "..." : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** "2, 3, 4," -> {2, 3, 4}; "" is a scalar (rank 0). Dimensions must be integers in [0, 2^31). */
    private static int[] shape(Path path, String text) throws IOException {
        String t = text.strip();
        if (t.endsWith(",")) t = t.substring(0, t.length() - 1).strip();
        if (t.isEmpty()) return new int[0];
        String[] parts = t.split(",", -1);
        if (parts.length > MAX_RANK) throw new BadInputException(path + ": .npy shape of rank " + parts.length + " is not supported");
        int[] shape = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            if (p.endsWith("L")) p = p.substring(0, p.length() - 1); // Python 2 longs
            if (!p.matches("[0-9]{1,10}") || Long.parseLong(p) > Integer.MAX_VALUE)
                throw new BadInputException(path + ": bad .npy shape (" + printable(text.strip()) + ")");
            shape[i] = Integer.parseInt(p);
        }
        return shape;
    }

    /** The header's dictionary text; dataStart[0] receives the offset of the data. Checked against {@code size}. */
    private static String header(Path path, FileChannel ch, long size, long[] dataStart) throws IOException {
        if (size < 10) throw new BadInputException(path + ": not a .npy file (" + size + " bytes)");
        ByteBuffer pre = readAt(path, ch, 0, (int) Math.min(12, size));
        byte[] magic = new byte[6];
        pre.get(magic);
        if (!new String(magic, StandardCharsets.ISO_8859_1).equals("\u0093NUMPY")) throw new BadInputException(path + ": not a .npy file (bad magic)");
        int major = pre.get(6);
        if (major < 1 || major > 3) throw new BadInputException(path + ": .npy format version " + major + " is not supported");
        int prefix = major == 1 ? 10 : 12;
        if (size < prefix) throw new BadInputException(path + ": truncated .npy header");
        long len = major == 1 ? pre.order(ByteOrder.LITTLE_ENDIAN).getShort(8) & 0xffffL : pre.order(ByteOrder.LITTLE_ENDIAN).getInt(8) & 0xffffffffL;
        if (len > 1 << 20) throw new BadInputException(path + ": .npy header of " + len + " bytes is implausible");
        if (prefix + len > size) throw new BadInputException(path + ": truncated .npy header (" + len + " bytes promised, file has " + size + ")");
        ByteBuffer dict = readAt(path, ch, prefix, (int) len);
        dataStart[0] = prefix + len;
        return new String(dict.array(), 0, (int) len, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1).strip();
    }

    /** Exactly {@code n} bytes at {@code pos}; a file that shrank meanwhile is refused, never waited on. */
    private static ByteBuffer readAt(Path path, FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new BadInputException(path + ": file ended early (changed while being read?)");
        }
        return b.flip();
    }

    private static Object data(Path path, FileChannel ch, long start, String dtype, int count) throws IOException {
        int item = Integer.parseInt(dtype.substring(1));
        Object out = switch (dtype) {
            case "f4" -> new float[count];
            case "f8" -> new double[count];
            case "i8" -> new long[count];
            case "u1", "i1" -> new byte[count];
            case "i4" -> new int[count];
            default -> throw new BadInputException(path + ": dtype " + dtype + " cannot be read");
        };
        int perChunk = Math.max(1, (1 << 20) / item);
        for (int done = 0; done < count; ) {
            int m = Math.min(perChunk, count - done);
            ByteBuffer b = readAt(path, ch, start + (long) done * item, m * item).order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "f4" -> b.asFloatBuffer().get((float[]) out, done, m);
                case "f8" -> b.asDoubleBuffer().get((double[]) out, done, m);
                case "i8" -> b.asLongBuffer().get((long[]) out, done, m);
                case "i4" -> b.asIntBuffer().get((int[]) out, done, m);
                default -> b.get((byte[]) out, done, m);
            }
            done += m;
        }
        return out;
    }
}
