package dev.quarry.cli;

import dev.quarry.acquire.LogProbs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jetbrains.bio.npy.NpyArray;
import org.jetbrains.bio.npy.NpyFile;

/** .npy input and atomic output through org.jetbrains.bio:npy, with the checks a user's file needs. */
final class Npy {
    private Npy() {}

    /** Reads an N x K x C float32/float64 C-order array of log-probabilities and validates it. */
    static LogProbs readLogProbs(Path path) {
        if (!Files.isRegularFile(path)) throw new Main.UsageException(path + ": no such file");
        String header = headerOf(path);
        if (header.contains("'fortran_order': True"))
            throw new Main.UsageException(path + ": Fortran-order arrays are not supported; save it in C order");
        NpyArray array;
        try {
            array = NpyFile.read(path, Integer.MAX_VALUE);
        } catch (RuntimeException | OutOfMemoryError e) {
            throw new Main.UsageException(path + ": not a readable .npy file (" + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        }
        int[] shape = array.getShape();
        checkSize(path, header, array);
        if (shape.length != 3)
            throw new Main.UsageException(path + ": expected a 3-d array N x K x C of log-probabilities, got rank " + shape.length);
        try {
            Object data = array.getData();
            if (data instanceof float[] f) return LogProbs.ofFloats(f, shape[0], shape[1], shape[2]);
            if (data instanceof double[] d) return LogProbs.ofDoubles(d, shape[0], shape[1], shape[2]);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(path + ": " + e.getMessage());
        }
        throw new Main.UsageException(path + ": expected float32 or float64 data, got " + array.getData().getClass().getSimpleName());
    }

    /** The file must hold exactly the header plus the data its shape promises (the reader pads short files). */
    private static void checkSize(Path path, String head, NpyArray array) {
        int major = head.charAt(6);
        int b0 = head.charAt(8), b1 = head.charAt(9), b2 = head.charAt(10), b3 = head.charAt(11);
        long headerBytes = major == 1 ? 10L + (b0 | (b1 << 8)) : 12L + (b0 | (b1 << 8) | (b2 << 16) | ((long) b3 << 24));
        long elements = 1;
        for (int d : array.getShape()) elements *= d;
        int itemBytes = array.getData() instanceof double[] || array.getData() instanceof long[] ? 8
                : array.getData() instanceof float[] || array.getData() instanceof int[] ? 4
                : array.getData() instanceof short[] ? 2 : 1;
        long want = headerBytes + elements * itemBytes;
        try {
            long have = Files.size(path);
            if (have != want)
                throw new Main.UsageException(path + ": truncated or padded .npy: " + have + " bytes, the header promises " + want);
        } catch (IOException e) {
            throw new Main.UsageException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static String headerOf(Path path) {
        byte[] head = new byte[256];
        try (InputStream in = Files.newInputStream(path)) {
            int n = in.readNBytes(head, 0, head.length);
            String s = new String(head, 0, n, StandardCharsets.ISO_8859_1);
            if (n < 10 || !s.startsWith("\u0093NUMPY")) throw new Main.UsageException(path + ": not a .npy file (bad magic)");
            return s;
        } catch (IOException e) {
            throw new Main.UsageException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }
}
