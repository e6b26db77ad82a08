package dev.quarry.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reader for IDX files (the MNIST / Fashion-MNIST format), raw or gzipped: a big-endian magic 0x0000TTRR (TT =
 * 0x08 for unsigned bytes, RR = rank), RR big-endian int32 dimensions, then the data. Truncated, oversized or
 * malformed files are refused with a message that names the file and what is wrong.
 */
public final class Idx {
    private Idx() {}

    /** Unsigned-byte data with its dimensions. */
    public record Array(int[] shape, byte[] data) {
        public int count() {
            return shape[0];
        }

        /** Value at flat index i as 0..255. */
        public int at(long i) {
            return data[(int) i] & 0xff;
        }
    }

    public static Array read(Path path) throws IOException {
        if (!Files.isRegularFile(path)) throw new IOException(path + ": no such file");
        return read(path.toString(), Files.newInputStream(path));
    }

    /** An IDX file from {@code stream} (closed here); {@code name} is what messages call it. */
    public static Array read(String name, InputStream stream) throws IOException {
        Object path = name;
        try (InputStream raw = new BufferedInputStream(stream)) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
            return parse(path, new DataInputStream(in));
        } catch (EOFException e) {
            throw new IOException(path + ": truncated IDX file");
        } catch (java.util.zip.ZipException e) {
            throw new IOException(path + ": corrupt gzip data (" + e.getMessage() + ")");
        }
    }

    private static Array parse(Object path, DataInputStream in) throws IOException {
        int magic = in.readInt();
        int type = (magic >>> 8) & 0xff, rank = magic & 0xff;
        if ((magic >>> 16) != 0 || type != 0x08)
            throw new IOException(path + ": not an unsigned-byte IDX file (magic 0x" + Integer.toHexString(magic) + ")");
        if (rank < 1 || rank > 4) throw new IOException(path + ": IDX rank " + rank + " is not supported");
        int[] shape = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = in.readInt();
            if (shape[i] <= 0) throw new IOException(path + ": dimension " + i + " is " + shape[i]);
            total *= shape[i];
            if (total > Integer.MAX_VALUE - 16) throw new IOException(path + ": " + Arrays.toString(shape) + " is too large");
        }
        byte[] data = new byte[(int) total];
        in.readFully(data);
        if (in.read() != -1) throw new IOException(path + ": trailing bytes after " + Arrays.toString(shape) + " of data");
        return new Array(shape, data);
    }
}
