package dev.quarry.acquire;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A chosen batch: pool indices in selection order, each item's score (for BatchBALD the batch objective
 * a(A + x) when x was chosen), and the seconds each stage took.
 */
public record Selection(long[] indices, double[] scores, LinkedHashMap<String, Double> stageSeconds) {
    public Map<String, Double> timings() {
        return stageSeconds;
    }
}
