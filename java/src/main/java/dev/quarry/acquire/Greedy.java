package dev.quarry.acquire;

import java.util.Locale;

/**
 * How greedy BatchBALD searches each step: FULL re-scores every pool point; LAZY (Minoux's lazy greedy) keeps each
 * candidate's last computed marginal gain as an upper bound (a(A) is submodular, so gains only shrink as A grows)
 * and re-scores, in blocks in bound order, only candidates whose bound can still beat the best fresh gain.
 */
public enum Greedy {
    LAZY, FULL;

    public static final Greedy DEFAULT = FULL; // lazy is exact-equivalent only while the joint is exact, and not faster on every pool (README)

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Greedy parse(String s) {
        for (Greedy g : values())
            if (g.cliName().equals(s)) return g;
        throw new IllegalArgumentException("unknown --greedy '" + s + "': expected lazy or full");
    }
}
