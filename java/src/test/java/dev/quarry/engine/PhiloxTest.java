package dev.quarry.engine;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class PhiloxTest {
    private static int[] block(int[] c, int[] k) {
        int[] out = new int[4];
        QuarryNative.qy_philox4x32_10(c, k, out);
        return out;
    }

    @Test
    void matchesRandom123KnownAnswers() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, block(new int[4], new int[2]));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                block(new int[] {-1, -1, -1, -1}, new int[] {-1, -1}));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                block(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, new int[] {0xa4093822, 0x299f31d0}));
    }

    @Test
    void uniformFillFollowsTheDocumentedCounterLayout() {
        long seed = 0x1234_5678_9abcL;
        int n = 11;
        try (Tensor t = Tensor.empty(Device.cpu(), n)) {
            Ops.fillUniform(t, seed, 7, -1f, 3f);
            float[] got = t.toFloats();
            for (int i = 0; i < n; i++) {
                int[] r = block(new int[] {i >> 2, 0, 7, 0x80000000}, new int[] {(int) seed, (int) (seed >>> 32)});
                float u = (r[i & 3] >>> 8) * (1.0f / 16777216.0f);
                assertEquals(-1f + 4f * u, got[i], 0f, "element " + i);
            }
        }
    }

    @Test
    void normalFillHasTheRequestedMoments() {
        int n = 200_001;
        try (Tensor t = Tensor.empty(Device.cpu(), n)) {
            Ops.fillNormal(t, 42, 3, 2f, 0.5f);
            double s = 0, s2 = 0;
            for (float v : t.toFloats()) {
                s += v;
                s2 += (double) v * v;
            }
            double mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
            assertEquals(2.0, mean, 5 * 0.5 / Math.sqrt(n));
            assertEquals(0.5, std, 0.005);
        }
    }
}
