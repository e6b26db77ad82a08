package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.jetbrains.bio.npy.NpyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image/label .npy pairs written by the test (u1 and f4 images, i8 labels), good and broken. */
class NpyImagesTest {
    @TempDir
    Path tmp;

    private final Random rng = new Random(12);

    /** The npy library writes byte[] as '|i1'; numpy writes uint8 images as '|u1' (same header length). */
    private Path u1(String name, byte[] data, int... shape) throws IOException {
        Path p = tmp.resolve(name);
        NpyFile.write(p, data, shape);
        byte[] b = Files.readAllBytes(p);
        String head = new String(b, 0, 64, StandardCharsets.ISO_8859_1);
        int at = head.indexOf("|i1");
        b[at + 1] = 'u';
        Files.write(p, b);
        return p;
    }

    private Path labels(String name, long... y) {
        Path p = tmp.resolve(name);
        NpyFile.write(p, y, new int[] {y.length});
        return p;
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rng.nextBytes(b);
        return b;
    }

    private String refusal(Path images, Path labels, int classes) {
        String msg = assertThrows(IOException.class, () -> NpyImages.load(images, labels, classes)).getMessage();
        assertFalse(msg.contains("\n"), "one line: " + msg);
        return msg;
    }

    @Test
    void u1ImagesAreScaledAndLabelsKept() throws IOException {
        byte[] b = randomBytes(5 * 3 * 4 * 2);
        ImageSet s = NpyImages.load(u1("x.npy", b, 5, 3, 4, 2), labels("y.npy", 3, 0, 9, 4, 4), 10);
        assertEquals(5, s.n());
        assertEquals(3, s.height());
        assertEquals(4, s.width());
        assertEquals(2, s.channels());
        assertArrayEquals(new int[] {3, 0, 9, 4, 4}, s.labels());
        for (int i = 0; i < b.length; i++) assertEquals((b[i] & 0xff) / 255f, s.images()[i], 0f, "pixel " + i);
    }

    @Test
    void f4ImagesAreTakenAsTheyAreAndNormalisedPerChannel() throws IOException {
        int n = 7, h = 5, w = 3, c = 3;
        float[] x = new float[n * h * w * c];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextGaussian() * (1 + i % c) + 10 * (i % c));
        Path xp = tmp.resolve("x.npy");
        NpyFile.write(xp, x, new int[] {n, h, w, c});
        ImageSet s = NpyImages.load(xp, labels("y.npy", 0, 1, 2, 0, 1, 2, 0), 3);
        assertArrayEquals(x, s.images());
        NpyImages.ChannelStats stats = NpyImages.ChannelStats.of(s);
        for (int ch = 0; ch < c; ch++) {
            double sum = 0, sq = 0;
            int count = 0;
            for (int i = ch; i < x.length; i += c, count++) sum += x[i];
            for (int i = ch; i < x.length; i += c) sq += (x[i] - sum / count) * (x[i] - sum / count);
            assertEquals(sum / count, stats.mean()[ch], 1e-5 * Math.abs(sum / count));
            assertEquals(Math.sqrt(sq / count), stats.std()[ch], 1e-5 * Math.sqrt(sq / count));
        }
        stats.normalizeInPlace(s);
        for (int i = 0; i < x.length; i++)
            assertEquals((x[i] - stats.mean()[i % c]) / stats.std()[i % c], s.images()[i], 0f);
        // Given statistics (say, the training set's) apply as they are.
        ImageSet other = NpyImages.load(xp, tmp.resolve("y.npy"), 3);
        new NpyImages.ChannelStats(new float[] {1, 2, 3}, new float[] {2, 4, 8}).normalizeInPlace(other);
        assertEquals((x[5] - 3) / 8, other.images()[5], 0f);
        assertThrows(IllegalArgumentException.class, () -> new NpyImages.ChannelStats(new float[] {0}, new float[] {0}));
    }

    @Test
    void brokenPairsAreRefusedNamingTheFile() throws IOException {
        Path good = u1("good.npy", randomBytes(4 * 2 * 2 * 1), 4, 2, 2, 1);
        Path y4 = labels("y4.npy", 0, 1, 0, 1);
        Path y3 = labels("y3.npy", 0, 1, 0);
        Path yBad = labels("ybad.npy", 0, 1, 2, 1);
        Path yNeg = labels("yneg.npy", 0, -1, 0, 1);
        Path rank3 = u1("rank3.npy", randomBytes(4 * 2 * 2), 4, 2, 2);
        Path f8 = tmp.resolve("f8.npy");
        NpyFile.write(f8, new double[16], new int[] {4, 2, 2, 1});
        Path i4Labels = tmp.resolve("i4.npy");
        NpyFile.write(i4Labels, new int[] {0, 1, 0, 1}, new int[] {4});
        Path truncated = tmp.resolve("truncated.npy");
        byte[] g = Files.readAllBytes(good);
        Files.write(truncated, Arrays.copyOf(g, g.length - 3));
        Path headerOnly = tmp.resolve("header.npy");
        Files.write(headerOnly, Arrays.copyOf(g, 20));
        Path notNpy = tmp.resolve("text.npy");
        Files.writeString(notNpy, "images,labels\n");
        Path nan = tmp.resolve("nan.npy");
        float[] xf = new float[16];
        Arrays.fill(xf, 0.5f);
        xf[9] = Float.NaN;
        NpyFile.write(nan, xf, new int[] {4, 2, 2, 1});
        Path fortran = tmp.resolve("fortran.npy");
        Files.write(fortran, new String(g, StandardCharsets.ISO_8859_1).replace("'fortran_order': False", "'fortran_order': True ")
                .getBytes(StandardCharsets.ISO_8859_1));

        assertEquals(4, NpyImages.load(good, y4, 2).n());
        String[][] cases = {
                {truncated.toString(), y4.toString(), "truncated.npy: truncated or padded .npy"},
                {headerOnly.toString(), y4.toString(), "header.npy: truncated .npy header"},
                {notNpy.toString(), y4.toString(), "text.npy: not a .npy file"},
                {good.toString(), y3.toString(), "y3.npy: 3 labels for 4 images"},
                {good.toString(), yBad.toString(), "ybad.npy: label 2 at index 2 is outside [0, 2)"},
                {good.toString(), yNeg.toString(), "yneg.npy: label -1 at index 1"},
                {rank3.toString(), y4.toString(), "rank3.npy: expected images N x H x W x C (rank 4)"},
                {f8.toString(), y4.toString(), "f8.npy: dtype '<f8' is not supported"},
                {good.toString(), i4Labels.toString(), "i4.npy: dtype '<i4' is not supported"},
                {nan.toString(), y4.toString(), "nan.npy: pixel 9 is NaN"},
                {fortran.toString(), y4.toString(), "fortran.npy: Fortran-order arrays are not supported"},
                {tmp.resolve("missing.npy").toString(), y4.toString(), "missing.npy: no such file"},
        };
        for (String[] c : cases) {
            String msg = refusal(Path.of(c[0]), Path.of(c[1]), 2);
            assertTrue(msg.contains(c[2]), "want '" + c[2] + "' in: " + msg);
        }
    }
}
