package dev.quarry.acquire;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chosen batch: pool indices in selection order, each item's score (for BatchBALD the batch objective
 * a(A + x) when x was chosen), the seconds each stage took, and per-step search statistics (BatchBALD only: one
 * map per greedy step with candidates evaluated, joint-entropy blocks and the slack used; empty otherwise).
 */
public record Selection(long[] indices, double[] scores, LinkedHashMap<String, Double> stageSeconds, List<Map<String, Object>> steps) {
    public Selection(long[] indices, double[] scores, LinkedHashMap<String, Double> stageSeconds) {
        this(indices, scores, stageSeconds, List.of());
    }

    public Map<String, Double> timings() {
        return stageSeconds;
    }
}
