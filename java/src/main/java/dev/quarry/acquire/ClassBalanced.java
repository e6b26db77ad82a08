package dev.quarry.acquire;

import java.util.LinkedHashMap;

/**
 * Class-balanced selection in the spirit of BASE (Emam et al. 2021): the batch is split into per-class quotas
 * over the model's predicted classes, and each quota is filled with that class's highest-scoring points. The
 * b mod C extra slots go to the classes with the fewest labels so far; quotas a class cannot fill go to the
 * best remaining points of any class.
 */
public final class ClassBalanced {
    private ClassBalanced() {}

    /** Quotas per class: floor(b / C) each, plus one for the b mod C classes with the fewest labels (ties: lower class). */
    static int[] quotas(int b, int[] labelCounts) {
        int c = labelCounts.length;
        int[] q = new int[c];
        java.util.Arrays.fill(q, b / c);
        Integer[] order = new Integer[c];
        for (int j = 0; j < c; j++) order[j] = j;
        java.util.Arrays.sort(order, (x, y) -> labelCounts[x] != labelCounts[y] ? Integer.compare(labelCounts[x], labelCounts[y]) : Integer.compare(x, y));
        for (int r = 0; r < b % c; r++) q[order[r]]++;
        return q;
    }

    /** Picks {@code b} points given each point's score and predicted class; {@code labelCounts} has one entry per class. */
    public static Selection select(double[] scoresN, int[] predictedN, int b, int[] labelCounts) {
        int n = scoresN.length;
        if (b < 1 || b > n) throw new IllegalArgumentException("batch size " + b + " must be between 1 and the pool size " + n);
        long t0 = System.nanoTime();
        int[] q = quotas(b, labelCounts);
        boolean[] taken = new boolean[n];
        long[] idx = new long[b];
        double[] picked = new double[b];
        int m = 0;
        for (int cls = 0; cls < q.length; cls++) {
            if (q[cls] == 0) continue;
            boolean[] other = new boolean[n];
            for (int i = 0; i < n; i++) other[i] = taken[i] || predictedN[i] != cls;
            for (int i : TopB.select(scoresN, q[cls], other)) {
                taken[i] = true;
                idx[m] = i;
                picked[m++] = scoresN[i];
            }
        }
        if (m < b)
            for (int i : TopB.select(scoresN, b - m, taken)) {
                taken[i] = true;
                idx[m] = i;
                picked[m++] = scoresN[i];
            }
        LinkedHashMap<String, Double> times = new LinkedHashMap<>();
        times.put("select", (System.nanoTime() - t0) / 1e9);
        return new Selection(java.util.Arrays.copyOf(idx, m), java.util.Arrays.copyOf(picked, m), times);
    }
}
