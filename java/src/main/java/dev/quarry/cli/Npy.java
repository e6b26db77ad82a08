package dev.quarry.cli;

import dev.quarry.acquire.LogProbs;
import dev.quarry.data.NpyReader;
import java.io.IOException;
import java.nio.file.Path;

/** Log-probabilities from .npy (checked by {@link NpyReader}) (atomic output: util.AtomicWriter). */
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
}
