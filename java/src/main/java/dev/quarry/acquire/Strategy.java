package dev.quarry.acquire;

import dev.quarry.engine.QuarryNative;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Acquisition strategies by their command-line names (docs/acquisition.md). */
public enum Strategy {
    RANDOM("random", -1, Noise.NONE),
    ENTROPY("entropy", QuarryNative.QY_SCORE_ENTROPY, Noise.NONE),
    BALD("bald", QuarryNative.QY_SCORE_BALD, Noise.NONE),
    LEAST_CONFIDENCE("least-confidence", QuarryNative.QY_SCORE_LEAST_CONFIDENCE, Noise.NONE),
    MARGIN("margin", QuarryNative.QY_SCORE_MARGIN, Noise.NONE),
    VARIATION_RATIOS("variation-ratios", QuarryNative.QY_SCORE_VARIATION_RATIOS, Noise.NONE),
    MEAN_STD("mean-std", QuarryNative.QY_SCORE_MEAN_STD, Noise.NONE),
    POWER_BALD("power-bald", QuarryNative.QY_SCORE_BALD, Noise.POWER),
    POWER_ENTROPY("power-entropy", QuarryNative.QY_SCORE_ENTROPY, Noise.POWER),
    SOFTMAX_BALD("softmax-bald", QuarryNative.QY_SCORE_BALD, Noise.SOFTMAX),
    SOFTMAX_ENTROPY("softmax-entropy", QuarryNative.QY_SCORE_ENTROPY, Noise.SOFTMAX),
    SOFTRANK_BALD("softrank-bald", QuarryNative.QY_SCORE_BALD, Noise.SOFTRANK),
    SOFTRANK_ENTROPY("softrank-entropy", QuarryNative.QY_SCORE_ENTROPY, Noise.SOFTRANK),
    BATCHBALD("batchbald", QuarryNative.QY_SCORE_BALD, Noise.NONE);

    /** Stochastic batch acquisition (Kirsch et al.): how Gumbel noise perturbs the score before top-b. */
    public enum Noise { NONE, POWER, SOFTMAX, SOFTRANK }

    public final String cliName;
    final int scoreKind;
    final Noise noise;

    Strategy(String cliName, int scoreKind, Noise noise) {
        this.cliName = cliName;
        this.scoreKind = scoreKind;
        this.noise = noise;
    }

    /** The QY_SCORE_* kind this strategy ranks by (-1 for random). */
    public int scoreKind() {
        return scoreKind;
    }

    /** Whether the strategy ranks single points by a score with no noise, so class quotas can be filled by it. */
    public boolean plainScore() {
        return scoreKind >= 0 && noise == Noise.NONE && this != BATCHBALD;
    }

    public static Strategy parse(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (Strategy s : values())
            if (s.cliName.equals(n)) return s;
        throw new IllegalArgumentException("unknown strategy '" + name + "' (known: " + names() + ")");
    }

    public static String names() {
        return Arrays.stream(values()).map(s -> s.cliName).collect(Collectors.joining(", "));
    }
}
