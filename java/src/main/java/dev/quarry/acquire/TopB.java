package dev.quarry.acquire;

import java.util.PriorityQueue;

/** The b largest keys, largest first, ties to the lower index; NaN keys and excluded indices never win. */
final class TopB {
    private TopB() {}

    static int[] select(double[] keys, int b, boolean[] excluded) {
        // min-heap of the current best b: the root is the worst kept (smallest key, then highest index)
        PriorityQueue<Integer> heap = new PriorityQueue<>(b + 1, (x, y) -> better(keys, x, y) ? 1 : better(keys, y, x) ? -1 : 0);
        for (int i = 0; i < keys.length; i++) {
            if ((excluded != null && excluded[i]) || Double.isNaN(keys[i])) continue;
            if (heap.size() < b) heap.add(i);
            else if (better(keys, i, heap.peek())) {
                heap.poll();
                heap.add(i);
            }
        }
        int[] out = new int[heap.size()];
        for (int j = out.length - 1; j >= 0; j--) out[j] = heap.poll();
        return out;
    }

    /** Whether index x ranks before index y. */
    static boolean better(double[] keys, int x, int y) {
        return keys[x] > keys[y] || (keys[x] == keys[y] && x < y);
    }

    static int argmax(double[] keys, boolean[] excluded) {
        int best = -1;
        for (int i = 0; i < keys.length; i++) {
            if ((excluded != null && excluded[i]) || Double.isNaN(keys[i])) continue;
            if (best < 0 || keys[i] > keys[best]) best = i;
        }
        return best;
    }
}
