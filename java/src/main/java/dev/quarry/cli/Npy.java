package dev.quarry.cli;

import dev.quarry.acquire.LogProbs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
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

    /** Writes files into a directory atomically: each goes to a temporary name first and is renamed at the end. */
    static final class AtomicWriter {
        private final Path dir;
        private final List<Path[]> pending = new ArrayList<>();

        AtomicWriter(Path dir) {
            this.dir = dir;
        }

        Path stage(String name) throws IOException {
            Files.createDirectories(dir);
            Path tmp = dir.resolve("." + name + ".tmp");
            pending.add(new Path[] {tmp, dir.resolve(name)});
            return tmp;
        }

        void commit() throws IOException {
            for (Path[] p : pending) Files.move(p[0], p[1], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            pending.clear();
        }

        void abort() {
            for (Path[] p : pending) {
                try {
                    Files.deleteIfExists(p[0]);
                } catch (IOException ignored) {
                    // best effort: the temporary names never look like results
                }
            }
        }
    }
}
