package dev.quarry.train;

import java.util.Locale;

/**
 * Learning-rate schedules as functions of the optimizer step. {@code warmupSteps} ramps linearly from 0 for
 * constant, step and cosine; one-cycle has its own warm-up (the first {@code pctStart} of training, from
 * base/25 up to base, then cosine down to base/25e4, as PyTorch's OneCycleLR with its defaults).
 */
public record Schedule(Kind kind, long warmupSteps, long stepEvery, double gamma, double pctStart) {
    public enum Kind { CONSTANT, STEP, COSINE, ONECYCLE }

    public Schedule {
        if (warmupSteps < 0) throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmupSteps);
        if (kind == Kind.STEP && (stepEvery < 1 || !(gamma > 0 && gamma <= 1)))
            throw new IllegalArgumentException("step schedule needs a period >= 1 and 0 < gamma <= 1, got " + stepEvery + ", " + gamma);
        if (kind == Kind.ONECYCLE && !(pctStart > 0 && pctStart < 1))
            throw new IllegalArgumentException("one-cycle warm-up fraction must be in (0, 1), got " + pctStart);
    }

    public static Schedule constant() {
        return new Schedule(Kind.CONSTANT, 0, 1, 1, 0.3);
    }

    public static Schedule parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "constant" -> constant();
            case "step" -> new Schedule(Kind.STEP, 0, 1, 0.1, 0.3);
            case "cosine" -> new Schedule(Kind.COSINE, 0, 1, 1, 0.3);
            case "onecycle", "one-cycle" -> new Schedule(Kind.ONECYCLE, 0, 1, 1, 0.3);
            default -> throw new IllegalArgumentException("unknown schedule '" + name + "' (known: constant, step, cosine, onecycle)");
        };
    }

    public Schedule withWarmup(long steps) {
        return new Schedule(kind, steps, stepEvery, gamma, pctStart);
    }

    public Schedule withStep(long every, double g) {
        return new Schedule(kind, warmupSteps, every, g, pctStart);
    }

    /** The learning rate for optimizer step {@code step} (0-based) of {@code total}. */
    public float at(float base, long step, long total) {
        if (kind == Kind.ONECYCLE) {
            double up = Math.max(1, Math.round(pctStart * total)), lo = base / 25.0, end = lo / 1e4;
            if (step < up) return (float) cosineBetween(lo, base, step / up);
            return (float) cosineBetween(base, end, Math.min(1, (step - up) / Math.max(1.0, total - up)));
        }
        double warm = warmupSteps > 0 && step < warmupSteps ? (step + 1) / (double) warmupSteps : 1;
        double f = switch (kind) {
            case CONSTANT -> 1;
            case STEP -> Math.pow(gamma, Math.floorDiv(step, stepEvery));
            case COSINE -> {
                long span = Math.max(1, total - warmupSteps);
                double t = Math.min(1, Math.max(0, step - warmupSteps) / (double) span);
                yield 0.5 * (1 + Math.cos(Math.PI * t));
            }
            case ONECYCLE -> throw new AssertionError();
        };
        return (float) (base * warm * f);
    }

    /** Cosine interpolation from a (t = 0) to b (t = 1). */
    private static double cosineBetween(double a, double b, double t) {
        return b + (a - b) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
}
