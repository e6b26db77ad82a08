package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CIFAR-10 is not shipped: these files are written in the real binary record format by the test. */
class Cifar10Test {
    @TempDir
    Path tmp;

    private Path batch(String name, int records, int seed) throws IOException {
        byte[] b = new byte[records * Cifar10.RECORD];
        java.util.Random r = new java.util.Random(seed);
        r.nextBytes(b);
        for (int i = 0; i < records; i++) b[i * Cifar10.RECORD] = (byte) ((i + seed) % 10);
        Path p = tmp.resolve(name);
        Files.write(p, b);
        return p;
    }

    @Test
    void planesBecomeNormalisedNhwcPixels() throws IOException {
        Path a = batch("a.bin", 3, 1), b = batch("b.bin", 2, 2);
        ImageSet s = Cifar10.load(List.of(a, b));
        assertEquals(5, s.n());
        assertEquals(3, s.channels());
        assertArrayEquals(new int[] {1, 2, 3, 2, 3}, s.labels());
        byte[] raw = Files.readAllBytes(b);
        int plane = 32 * 32, rec = 1, pix = 32 * 7 + 5, c = 2; // record 1 of b: image 4 overall, pixel (7, 5), blue
        float want = ((raw[rec * Cifar10.RECORD + 1 + c * plane + pix] & 0xff) / 255f - Cifar10.MEAN[c]) / Cifar10.STD[c];
        assertEquals(want, s.images()[(4 * plane + pix) * 3 + c], 0f);
    }

    @Test
    void truncatedBatchesAndBadLabelsAreRefused() throws IOException {
        Path a = batch("a.bin", 2, 1);
        Path cut = tmp.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(Files.readAllBytes(a), Cifar10.RECORD + 100));
        assertTrue(assertThrows(IOException.class, () -> Cifar10.load(List.of(cut))).getMessage().contains("truncated"));
        byte[] bad = Files.readAllBytes(a);
        bad[0] = 11;
        Path badLabel = tmp.resolve("bad.bin");
        Files.write(badLabel, bad);
        assertTrue(assertThrows(IOException.class, () -> Cifar10.load(List.of(badLabel))).getMessage().contains("label 11"));
        assertThrows(IOException.class, () -> Cifar10.loadSplit(tmp.resolve("nowhere")));
    }

    @Test
    void everyTruncationNamesTheFile() throws IOException {
        byte[] two = Files.readAllBytes(batch("two.bin", 2, 3));
        for (int keep : new int[] {0, 1, Cifar10.RECORD - 1, Cifar10.RECORD + 1, 2 * Cifar10.RECORD - 1}) {
            Path cut = tmp.resolve("cut" + keep + ".bin");
            Files.write(cut, Arrays.copyOf(two, keep));
            String msg = assertThrows(IOException.class, () -> Cifar10.load(List.of(batch("ok.bin", 1, 1), cut))).getMessage();
            assertTrue(msg.startsWith(cut.toString()) && msg.contains("truncated?"), keep + " bytes: " + msg);
        }
    }
}
