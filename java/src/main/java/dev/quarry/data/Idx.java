package dev.quarry.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import dev.quarry.util.BadInputException;
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
        if (!Files.isRegularFile(path)) throw new BadInputException(path + ": no such file");
        return read(path.toString(), Files.newInputStream(path), Files.size(path));
    }

    /**
     * An IDX file from {@code stream} (closed here), raw or gzipped, checked as {@link #read(Path)} checks a file;
     * {@code name} is what messages call it, {@code size} the stream's length in bytes (-1: unknown).
     */
    public static Array read(String name, InputStream stream, long size) throws IOException {
        try (InputStream raw = new BufferedInputStream(stream, 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            boolean gz = b0 == 0x1f && b1 == 0x8b;
            InputStream in = gz ? new GZIPInputStream(raw, 1 << 16) : raw;
            return parse(name, new DataInputStream(in), gz ? -1 : size);
        } catch (EOFException e) {
            throw new BadInputException(name + ": truncated IDX file");
        } catch (java.util.zip.ZipException e) {
            throw new BadInputException(name + ": corrupt gzip data (" + e.getMessage() + ")");
        }
    }

    /**
     * {@code size} is the raw file's length (checked against the header before anything is allocated), or -1 for
     * gzip data, whose length is known only by inflating it: then the buffer grows with the data that actually
     * arrives, so a header that promises gigabytes cannot allocate them.
     */
    private static Array parse(String path, DataInputStream in, long size) throws IOException {
        int magic = in.readInt();
        int type = (magic >>> 8) & 0xff, rank = magic & 0xff;
        if ((magic >>> 16) != 0 || type != 0x08)
            throw new BadInputException(path + ": not an unsigned-byte IDX file (magic 0x" + Integer.toHexString(magic) + ")");
        if (rank < 1 || rank > 4) throw new BadInputException(path + ": IDX rank " + rank + " is not supported");
        int[] shape = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = in.readInt();
            if (shape[i] <= 0) throw new BadInputException(path + ": dimension " + i + " is " + shape[i]);
            total *= shape[i];
            if (total > Integer.MAX_VALUE - 16) throw new BadInputException(path + ": " + Arrays.toString(shape) + " is too large");
        }
        long header = 4 + 4L * rank;
        if (size >= 0 && size != header + total)
            throw new BadInputException(path + ": " + (size < header + total ? "truncated IDX file" : "trailing bytes after the data") + ": "
                    + size + " bytes, the header " + Arrays.toString(shape) + " promises " + (header + total));
        byte[] data = new byte[(int) Math.min(total, size >= 0 ? total : 1 << 20)];
        int have = 0;
        while (have < total) {
            if (have == data.length) data = Arrays.copyOf(data, (int) Math.min(total, 2L * data.length));
            int r = in.read(data, have, data.length - have);
            if (r < 0) throw new BadInputException(path + ": truncated IDX file: " + have + " of " + total + " data bytes");
            have += r;
        }
        if (in.read() != -1) throw new BadInputException(path + ": trailing bytes after " + Arrays.toString(shape) + " of data");
        return new Array(shape, data);
    }
}
