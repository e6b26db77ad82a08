package dev.quarry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AlCommandTest {
    @TempDir
    Path tmp;

    /** A few seconds per round on two cores: tiny epochs, a 100-point pool subset, K = 3. */
    static final String[] SMALL = {"--dataset", "mnist-sample", "--initial", "10", "--budget", "20", "--samples", "3", "--test-samples", "0",
            "--pool-subset", "100", "--val", "50", "--epochs", "2", "--epoch-samples", "64", "--batch-size", "32", "--patience", "1",
            "--device", "cpu", "--quiet"};

    private static String[] with(String[] base, String... more) {
        String[] out = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, out, base.length, more.length);
        return out;
    }

    private int run(ByteArrayOutputStream err, String... args) {
        return Main.run(args, new PrintStream(new ByteArrayOutputStream(), true), new PrintStream(err, true));
    }

    private static List<CSVRecord> csv(Path p) throws IOException {
        try (Reader r = Files.newBufferedReader(p);
             CSVParser parser = CSVParser.parse(r, CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build())) {
            return parser.getRecords();
        }
    }

    @Test
    void threeRoundRunWritesEveryFileWithItsColumns() throws IOException {
        Path out = tmp.resolve("run");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(err, with(new String[] {"al"}, with(SMALL, "--strategy", "bald", "--acquisition-size", "5", "--out", out.toString())));
        assertEquals(0, code, err.toString());
        List<CSVRecord> rounds = csv(out.resolve("rounds.csv"));
        assertEquals(3, rounds.size(), "10, 15 and 20 labels");
        for (int r = 0; r < 3; r++) {
            CSVRecord row = rounds.get(r);
            assertEquals(r, Integer.parseInt(row.get("round")));
            assertEquals(10 + 5 * r, Integer.parseInt(row.get("labelled")));
            int total = 0;
            for (int c = 0; c < 10; c++) total += Integer.parseInt(row.get("count_" + c));
            assertEquals(10 + 5 * r, total, "per-class counts add up to the labelled set");
            double acc = Double.parseDouble(row.get("test_accuracy"));
            assertTrue(acc > 0 && acc <= 1, row.toString());
            assertTrue(Double.parseDouble(row.get("test_nll")) > 0);
            for (String t : List.of("train_s", "test_s", "infer_s", "acquire_s")) assertTrue(Double.parseDouble(row.get(t)) >= 0);
        }
        assertEquals(1, Integer.parseInt(rounds.get(0).get("count_0")), "balanced initial set: one per class");
        List<CSVRecord> sel = csv(out.resolve("selected.csv"));
        assertEquals(10, sel.size(), "two acquisitions of five");
        assertEquals(10, sel.stream().map(s -> s.get("index")).distinct().count());
        for (CSVRecord s : sel) {
            assertEquals(s.get("label"), s.get("true_label"), "no label noise asked for");
            double bald = Double.parseDouble(s.get("score"));
            assertTrue(bald >= 0 && bald <= Math.log(10) + 1e-9, "BALD lies in [0, log C]: " + bald);
        }
        String runJson = Files.readString(out.resolve("run.json"));
        for (String key : List.of("\"config\"", "\"strategy\" : \"bald\"", "\"seed\"", "\"versions\"", "\"device\"", "\"git\"")) assertTrue(runJson.contains(key), key);
        assertTrue(Files.size(out.resolve("curve.png")) > 1000);
        assertTrue(Files.readString(out.resolve("curve.svg")).contains("<svg"));
        assertTrue(Files.readString(out.resolve("state.json")).contains("\"finished\" : true"));
    }

    @Test
    void impossibleSettingsExitTwoWithOneLineAndNoFiles() {
        String[][] cases = {
                {"--acquisition-size", "9000", "larger than the unlabelled pool"},
                {"--budget", "5", "below the initial set"},
                {"--strategy", "oracle-magic", "unknown strategy 'oracle-magic'"},
                {"--data-dir", "/nonexistent/quarry", "looked in (1) --data-dir /nonexistent/quarry/mnist, (2) --data-dir /nonexistent/quarry"},
                {"--initial-mode", "file", "needs --initial-file"},
                {"--dataset", "cifar10", "data_batch_1.bin); looked in"},
                {"--model", "resnet18", "expects 32 x 32 x 3"},
                {"--lr", "-1", "learning rate must be positive"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("bad");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = run(err, with(new String[] {"al", c[0], c[1]}, with(SMALL, "--out", out.toString())));
            assertEquals(2, code, c[0] + ": " + err);
            assertTrue(err.toString().contains(c[2]), c[0] + ": " + err);
            assertEquals(1, err.toString().strip().lines().count(), err.toString());
            assertFalse(Files.exists(out), c[0] + " left files behind");
        }
    }

    @Test
    void resumeRefusesAFolderWithoutARunAndOutRefusesAnExistingRun() throws IOException {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "al", "--resume", tmp.resolve("nothing").toString()));
        assertTrue(err.toString().contains("no run.json"), err.toString());
        Path out = tmp.resolve("r");
        assertEquals(0, run(new ByteArrayOutputStream(), with(new String[] {"al"}, with(SMALL, "--strategy", "random", "--out", out.toString()))));
        err.reset();
        assertEquals(2, run(err, with(new String[] {"al"}, with(SMALL, "--strategy", "random", "--out", out.toString()))));
        assertTrue(err.toString().contains("already holds a run"), err.toString());
    }

    @Test
    void sweepAggregatesAndDoesNotRerunFinishedRuns() throws IOException {
        Path out = tmp.resolve("sweep");
        String[] args = with(new String[] {"sweep"}, with(SMALL, "--strategies", "random,entropy", "--seeds", "0-1", "--acquisition-sizes", "5",
                "--thresholds", "0.2,0.99", "--out", out.toString()));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, run(err, args), err.toString());
        List<CSVRecord> agg = csv(out.resolve("aggregate.csv"));
        assertEquals(2 * 3, agg.size(), "two strategies x three label counts");
        for (CSVRecord r : agg) assertEquals("2", r.get("runs"));
        List<CSVRecord> q = csv(out.resolve("quartiles.csv"));
        assertEquals(4, q.size());
        assertTrue(Files.size(out.resolve("curves.png")) > 1000);
        Path state = out.resolve("random-b5-seed1").resolve("state.json");
        FileTime before = Files.getLastModifiedTime(state);
        assertEquals(0, run(err, args), err.toString());
        assertEquals(before, Files.getLastModifiedTime(state), "a finished run is not rerun");
        String[] changed = args.clone();
        changed[java.util.Arrays.asList(changed).indexOf("--budget") + 1] = "25";
        err.reset();
        assertEquals(2, run(err, changed));
        assertTrue(err.toString().contains("other settings"), err.toString());
    }
}
