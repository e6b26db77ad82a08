package dev.quarry.acquire;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class ClassBalancedTest {
    @Test
    void quotasSplitEvenlyAndExtrasGoToTheLeastLabelledClasses() {
        assertArrayEquals(new int[] {1, 1, 1}, ClassBalanced.quotas(3, new int[] {5, 5, 5}));
        assertArrayEquals(new int[] {1, 2, 2}, ClassBalanced.quotas(5, new int[] {9, 2, 4}));
        assertArrayEquals(new int[] {1, 0, 0, 0}, ClassBalanced.quotas(1, new int[] {3, 3, 3, 3}), "ties go to the lower class");
    }

    @Test
    void eachQuotaTakesItsClassesBestScoresAndShortfallsGoToTheBestRemaining() {
        double[] s = {0.9, 0.8, 0.7, 0.1, 0.2, 0.95, 0.05};
        int[] pred = {0, 0, 0, 1, 1, 0, 2};
        // b = 3 over three classes: class 0 -> 5 (0.95); class 1 -> 4 (0.2); class 2 -> 6 (0.05)
        Selection a = ClassBalanced.select(s, pred, 3, new int[] {1, 1, 1});
        assertArrayEquals(new long[] {5, 4, 6}, a.indices());
        assertArrayEquals(new double[] {0.95, 0.2, 0.05}, a.scores());
        // b = 6 with class 2 having a single candidate: quotas 2/2/2, class 2 fills one, the spare goes to the best left (1: 0.8)
        Selection b = ClassBalanced.select(s, pred, 6, new int[] {1, 1, 1});
        assertArrayEquals(new long[] {5, 0, 4, 3, 6, 1}, b.indices());
        assertThrows(IllegalArgumentException.class, () -> ClassBalanced.select(s, pred, 8, new int[] {0, 0, 0}));
    }
}
