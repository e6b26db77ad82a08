package dev.quarry.cli;

import dev.quarry.acquire.LogProbs;
import dev.quarry.data.NpyReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/** Log-probabilities from .npy (checked by {@link NpyReader}) and atomic result output. */
final class Npy {
    private Npy() {}

    /** Reads an N x K x C float32/float64 C-order array of log-probabilities and validates it. */
    static LogProbs readLogProbs(Path path) {
        NpyReader.Array array;
        try {
            array = NpyReader.read(path, "f4", "f8");
        } catch (IOException e) {
            throw new Main.UsageException(e.getMessage());
        }
        int[] shape = array.shape();
        if (shape.length != 3)
            throw new Main.UsageException(path + ": expected a 3-d array N x K x C of log-probabilities, got rank " + shape.length);
        try {
            if (array.data() instanceof float[] f) return LogProbs.ofFloats(f, shape[0], shape[1], shape[2]);
            return LogProbs.ofDoubles((double[]) array.data(), shape[0], shape[1], shape[2]);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(path + ": " + e.getMessage());
        }
    }

    /**
     * Writes a result set into a directory: every file goes to a temporary name first; at commit the previous
     * results are removed, then the files are renamed in order, the last one staged (timing.json) marking a
     * complete result. A failure before commit leaves the old results untouched and no temporary files.
     */
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
            for (int i = pending.size() - 1; i >= 0; i--) Files.deleteIfExists(pending.get(i)[1]);
            for (Path[] p : pending) Files.move(p[0], p[1], StandardCopyOption.ATOMIC_MOVE);
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
