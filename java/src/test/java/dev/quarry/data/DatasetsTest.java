package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.jetbrains.bio.npy.NpyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path tmp;

    private void pair(String split, int n, int h, int w, int c, int classes, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * h * w * c];
        for (int i = 0; i < x.length; i++) x[i] = 3f + 2f * (float) r.nextGaussian() + (i % c);
        long[] y = new long[n];
        for (int i = 0; i < n; i++) y[i] = r.nextInt(classes);
        NpyFile.write(tmp.resolve(split + "_images.npy"), x, new int[] {n, h, w, c});
        NpyFile.write(tmp.resolve(split + "_labels.npy"), y, new int[] {n});
    }

    @Test
    void npyPairIsNormalisedWithTrainingStatistics() throws IOException {
        pair("train", 37, 5, 3, 2, 4, 1);
        pair("test", 11, 5, 3, 2, 4, 2);
        Datasets.Split s = Datasets.load("npy", tmp, 0, 1);
        assertEquals(37, s.trainIdx().length);
        assertEquals(11, s.testIdx().length);
        assertEquals(4, s.train().classes());
        for (int ch = 0; ch < 2; ch++) {
            double sum = 0, sq = 0;
            int m = 0;
            for (int i = ch; i < s.train().images().length; i += 2, m++) {
                sum += s.train().images()[i];
                sq += s.train().images()[i] * (double) s.train().images()[i];
            }
            assertEquals(0, sum / m, 1e-4, "channel " + ch + " mean");
            assertEquals(1, sq / m, 1e-3, "channel " + ch + " variance");
            assertEquals(3.0 + ch, s.mean()[ch], 0.5, "the statistics are kept for augmentations");
        }
    }

    @Test
    void mismatchedTestShapeIsRefused() {
        pair("train", 10, 5, 3, 2, 4, 1);
        pair("test", 4, 5, 4, 2, 4, 2);
        IOException e = assertThrows(IOException.class, () -> Datasets.load("npy", tmp, 0, 1));
        assertTrue(e.getMessage().contains("test images"), e.getMessage());
    }

    @Test
    void trainLimitKeepsASeededSubsetOfTheSample() throws IOException {
        Path dir = Path.of("datasets", "mnist");
        Datasets.Split full = Datasets.load("mnist-sample", dir, 3, 1);
        Datasets.Split a = Datasets.load("mnist-sample", dir, 3, 1, 500), b = Datasets.load("mnist-sample", dir, 3, 1, 500);
        assertEquals(8000, full.trainIdx().length);
        assertEquals(500, a.trainIdx().length);
        assertArrayEquals(a.trainIdx(), b.trainIdx(), "same seed, same subset");
        assertTrue(Arrays.stream(a.trainIdx()).allMatch(i -> Arrays.binarySearch(full.trainIdx(), i) >= 0), "a subset of the training split");
        assertArrayEquals(full.testIdx(), a.testIdx(), "the test split is untouched");
        assertThrows(IllegalArgumentException.class, () -> Datasets.load("mnist-sample", dir, 3, 1, -1));
    }
}
