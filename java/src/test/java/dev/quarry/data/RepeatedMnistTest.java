package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class RepeatedMnistTest {
    @Test
    void copiesCarryTheirOwnFixedNoise() throws IOException {
        ImageSet base = Mnist.shippedTestSet(Path.of("datasets"));
        ImageSet rep = RepeatedMnist.build(base, 3, 0.1f, 5);
        assertEquals(30_000, rep.n());
        int p = base.pixels();
        for (int c = 0; c < 3; c++) assertEquals(base.labels()[123], rep.labels()[c * 10_000 + 123]);
        double s2 = 0;
        int count = 0;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 200 * p; i++) {
                double d = rep.images()[c * 10_000 * p + i] - base.images()[i];
                s2 += d * d;
                count++;
            }
        assertEquals(0.1, Math.sqrt(s2 / count), 0.002, "noise std");
        assertNotEquals(rep.images()[0], rep.images()[10_000 * p], "copies differ");
        assertArrayEquals(rep.images(), RepeatedMnist.build(base, 3, 0.1f, 5).images(), "fixed by the seed");
    }
}
