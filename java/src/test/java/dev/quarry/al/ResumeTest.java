package dev.quarry.al;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import dev.quarry.util.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run interrupted after a round and resumed ends with the same files as one that ran straight through. */
class ResumeTest {
    @TempDir
    Path tmp;

    static AlConfig small(String strategy, boolean warm) {
        TrainConfig t = new TrainConfig("adam", 1e-3f, 0f, 0f, false, 0f, 32, 3, 96, Schedule.constant(), 0, 1, -1);
        return new AlConfig("mnist-sample", "datasets/mnist", 3, 0, "convnet", 0.5f, "classifier", strategy, 4, 10, "balanced", null, 60, 22, 0,
                3, 2, 80, 2000, 1, 0.1, warm, 11, "cpu", 64, t, null, null, "lazy");
    }

    private RunState run(AlConfig cfg, Path dir, int limit) throws IOException {
        Datasets.Split data = Datasets.load(cfg.dataset(), Path.of(cfg.dataDir()), cfg.seed(), cfg.copies());
        Results.writeRunJson(dir, cfg, "cpu");
        ActiveLearning al = new ActiveLearning(cfg, data, Device.cpu(), dir, Results.readState(dir), Progress.NONE, null);
        al.roundLimit = limit;
        return al.run();
    }

    /** rounds.csv without the timing columns (wall-clock seconds differ between any two runs). */
    private static String roundsWithoutTimes(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve("rounds.csv")).stream()
                .map(l -> Arrays.stream(l.split(",")).limit(l.split(",").length - 4L).collect(Collectors.joining(",")))
                .collect(Collectors.joining("\n"));
    }

    private void check(AlConfig cfg) throws IOException {
        Path straight = tmp.resolve(cfg.strategy() + cfg.warmStart() + "-a"), resumed = tmp.resolve(cfg.strategy() + cfg.warmStart() + "-b");
        RunState a = run(cfg, straight, Integer.MAX_VALUE);
        assertTrue(a.finished);
        assertEquals(4, a.rounds.size(), "labels 10, 14, 18, 22");
        RunState part = run(cfg, resumed, 2);
        assertFalse(part.finished);
        assertEquals(2, Results.readState(resumed).rounds.size());
        RunState b = run(Results.readConfig(resumed), resumed, Integer.MAX_VALUE);
        assertTrue(b.finished);
        assertEquals(Files.readString(straight.resolve("selected.csv")), Files.readString(resumed.resolve("selected.csv")));
        assertEquals(roundsWithoutTimes(straight), roundsWithoutTimes(resumed));
        assertArrayEquals(Files.readAllBytes(straight.resolve(a.checkpoint)), Files.readAllBytes(resumed.resolve(b.checkpoint)),
                "the last round's model is bit-identical");
        try (var files = Files.list(resumed)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of("curve.png", "curve.svg", a.checkpoint, "rounds.csv", "run.json", "selected.csv", "state.json"), names,
                    "no temporary files or stale checkpoints are left");
        }
    }

    @Test
    void resumedBatchBaldRunMatchesUninterruptedRun() throws IOException {
        check(small("batchbald", false));
    }

    @Test
    void resumedWarmStartRunWithLabelNoiseMatches() throws IOException {
        check(small("power-bald", true));
    }
}
