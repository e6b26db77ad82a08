package dev.quarry.al;

import dev.quarry.acquire.Strategy;

/** Strategy names of the active learning loop: the acquisition engine's, plus balanced-SCORE (per-class quotas). */
public final class Strategies {
    private Strategies() {}

    public record Spec(Strategy base, boolean balanced) {}

    public static Spec parse(String name) {
        if (name.startsWith("balanced-")) {
            Strategy base = Strategy.parse(name.substring("balanced-".length()));
            if (!base.plainScore())
                throw new IllegalArgumentException("'" + name + "': class-balanced selection needs a plain score (entropy, bald, margin, ...)");
            return new Spec(base, true);
        }
        return new Spec(Strategy.parse(name), false);
    }

    public static String names() {
        return Strategy.names() + ", balanced-<score> (e.g. balanced-bald, balanced-entropy, balanced-margin)";
    }
}
