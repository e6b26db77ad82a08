package dev.quarry.al;

import java.util.ArrayList;
import java.util.List;

/**
 * What an active learning run has done so far; state.json holds it and is the last file written each round, so
 * a resumed run starts from the last round it names. Labelled set = initial, then picks in order.
 */
public final class RunState {
    /** One evaluated round: the model trained on {@code labelled} labels for {@code epochs}, keeping epoch {@code bestEpoch}'s weights. */
    public record Round(int round, int labelled, double testAccuracy, double testNll, double valAccuracy, int epochs, int bestEpoch, int[] classCounts,
                        double trainSeconds, double testSeconds, double inferSeconds, double acquireSeconds) {}

    /** One acquired point: its index in the training set, its score, and the label the oracle gave (and the truth). */
    public record Pick(int round, int index, double score, int label, int trueLabel) {}

    public int[] initial = new int[0];
    public int[] initialLabels = new int[0];
    public List<Round> rounds = new ArrayList<>();
    public List<Pick> picks = new ArrayList<>();
    public String checkpoint;
    public boolean finished;
    public String stopReason;
}
