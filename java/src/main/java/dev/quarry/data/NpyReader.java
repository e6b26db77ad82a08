package dev.quarry.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jetbrains.bio.npy.NpyArray;
import org.jetbrains.bio.npy.NpyFile;

/**
 * .npy input (format versions 1 to 3) through org.jetbrains.bio:npy, with the checks a user's file needs: the magic,
 * C order, a dtype the caller accepts, and a file size that is exactly the header plus the data its shape promises
 * (the library pads short files). Every refusal is an {@link IOException} whose one-line message starts with the
 * file's path.
 */
public final class NpyReader {
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");

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
        if (!Files.isRegularFile(path)) throw new IOException(path + ": no such file");
        long[] headerBytes = new long[1];
        String dict = header(path, headerBytes);
        Matcher fortran = FORTRAN.matcher(dict), descr = DESCR.matcher(dict);
        if (!fortran.find() || !descr.find()) throw new IOException(path + ": not a readable .npy file (header without descr or fortran_order)");
        if (fortran.group(1).equals("True")) throw new IOException(path + ": Fortran-order arrays are not supported; save it in C order");
        String dtype = canonical(descr.group(1));
        if (!List.of(dtypes).contains(dtype))
            throw new IOException(path + ": dtype '" + descr.group(1) + "' is not supported here (expected " + String.join(" or ", dtypes) + ")");
        NpyArray array;
        try {
            array = NpyFile.read(path, Integer.MAX_VALUE);
        } catch (RuntimeException | OutOfMemoryError e) {
            throw new IOException(path + ": not a readable .npy file (" + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage().lines().findFirst().orElse("")) + ")");
        }
        Array a = new Array(dtype, array.getShape(), array.getData());
        long want = headerBytes[0] + a.count() * Integer.parseInt(dtype.substring(1));
        long have = Files.size(path);
        if (have != want) throw new IOException(path + ": truncated or padded .npy: " + have + " bytes, the header promises " + want);
        return a;
    }

    /** "<f4" -> "f4"; a single-byte type has no byte order ("|u1" -> "u1"); big-endian codes stay as they are. */
    private static String canonical(String descr) {
        if (descr.length() > 1 && (descr.charAt(0) == '<' || descr.charAt(0) == '|')) return descr.substring(1);
        if (descr.length() > 1 && descr.charAt(0) == '>' && descr.endsWith("1")) return descr.substring(1);
        return descr;
    }

    /** The header's dictionary text; headerBytes[0] receives the offset of the data. */
    private static String header(Path path, long[] headerBytes) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] pre = in.readNBytes(10);
            if (pre.length < 10 || !new String(pre, 0, 6, StandardCharsets.ISO_8859_1).equals("\u0093NUMPY"))
                throw new IOException(path + ": not a .npy file (bad magic)");
            int major = pre[6];
            if (major < 1 || major > 3) throw new IOException(path + ": .npy format version " + major + " is not supported");
            long len = (pre[8] & 0xffL) | (pre[9] & 0xffL) << 8;
            if (major > 1) {
                byte[] hi = in.readNBytes(2);
                if (hi.length < 2) throw new IOException(path + ": truncated .npy header");
                len |= (hi[0] & 0xffL) << 16 | (hi[1] & 0xffL) << 24;
            }
            if (len > 1 << 20) throw new IOException(path + ": .npy header of " + len + " bytes is implausible");
            byte[] dict = in.readNBytes((int) len);
            if (dict.length < len) throw new IOException(path + ": truncated .npy header");
            headerBytes[0] = (major == 1 ? 10 : 12) + len;
            return new String(dict, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        }
    }
}
