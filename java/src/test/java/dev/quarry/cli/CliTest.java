package dev.quarry.cli;

import dev.quarry.testing.LogProbPools;
import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.jetbrains.bio.npy.NpyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command-line layer itself, for every command: help generated from the option definitions, one-line usage
 * errors, deprecated spellings that still parse (with one warning line), and the defaults the commands had when
 * they were appended argv arrays.
 */
class CliTest {
    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {}

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    /** Every command and bench workload, as the words typed after {@code quarry}. */
    private static List<CommandSpec> allSpecs() {
        List<CommandSpec> all = new ArrayList<>();
        for (Main.Entry e : Main.COMMANDS.values()) all.addAll(e.specs());
        return all;
    }

    private static String[] words(CommandSpec s, String... more) {
        List<String> w = new ArrayList<>(List.of(s.name().split(" ")));
        w.addAll(List.of(more));
        return w.toArray(String[]::new);
    }

    private static String collapse(String s) {
        return s.replaceAll("\\s+", " ");
    }

    /** Parses {@code args} for {@code spec} with a placeholder for every other required option. */
    private static Parsed parse(CommandSpec spec, ByteArrayOutputStream err, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        for (OptionSpec<?> o : spec.options())
            if (o.required() && all.stream().noneMatch(a -> a.equals("--" + o.name()) || spec.aliases().stream()
                    .anyMatch(al -> al.target().name().equals(o.name()) && a.equals("--" + al.name())))) {
                all.add("--" + o.name());
                all.add("1");
            }
        return Cli.parse(spec, all.toArray(String[]::new), new PrintStream(err, true));
    }

    @Test
    void helpOfEveryCommandListsEachOptionWithItsDefaultAndExitsZero() {
        assertEquals(10, Main.COMMANDS.size());
        assertEquals(14, allSpecs().size(), "9 commands and 5 bench workloads");
        for (CommandSpec spec : allSpecs()) {
            List<String[]> forms = List.of(words(spec, "--help"), words(spec, "-h"), words(spec, "--out", "x", "--help"),
                    (String[]) java.util.stream.Stream.concat(java.util.stream.Stream.of("help"), Arrays.stream(words(spec))).toArray(String[]::new));
            for (String[] form : forms) {
                Result r = run(form);
                String what = String.join(" ", form);
                assertEquals(0, r.code(), what + ": " + r.err());
                assertEquals("", r.err(), what);
                String help = collapse(r.out());
                assertTrue(help.contains("usage: quarry " + spec.name()), what + ": " + r.out());
                for (OptionSpec<?> o : spec.options()) {
                    String name = "--" + o.name() + (o.isFlag() ? "" : " <" + o.argName() + ">");
                    assertTrue(help.contains(name), what + " lists " + name + ":\n" + r.out());
                    String described = collapse(o.description() + " (" + o.defaultText() + ")");
                    assertTrue(help.contains(described), what + " gives " + described + ":\n" + r.out());
                    if (!o.required() && !o.isFlag() && o.defaultHelp() == null)
                        assertTrue(o.defaultText().equals("no default"), o.name());
                }
                for (CommandSpec.Alias a : spec.aliases())
                    assertTrue(help.contains("--" + a.name()), what + " names the deprecated --" + a.name());
                assertTrue(help.contains("-h, --help"), what);
            }
        }
    }

    @Test
    void defaultsAreShownAsTheyApply() {
        String al = collapse(run("al", "--help").out());
        assertTrue(al.contains("--epochs <N> maximum training epochs (al: per round) (default: 30)"), al);
        assertTrue(al.contains("(default: 1024; 500 for mnist-sample)"), al);
        String train = collapse(run("train", "-h").out());
        assertTrue(train.contains("--epochs <N> maximum training epochs (al: per round) (default: 6)"), train);
        assertTrue(train.contains("--out <DIR> result folder (required)"), train);
        assertTrue(train.contains("usage: quarry train --out DIR [options]"), train);
        String pretrain = collapse(run("help", "pretrain").out());
        assertTrue(pretrain.contains("--batch-size <N> training minibatch (default: 256)"), pretrain);
        assertTrue(collapse(run("bench", "mc", "--help").out()).contains("(default: 500)"));
        assertTrue(train.contains("--data-dir <DIR> folder with the data set's files, or a data home holding its folder (default: none: the data home, "
                + "searched in order $QUARRY_DATA, ${XDG_CACHE_HOME:-~/.cache}/quarry/datasets, the checkout's datasets/"), train);
        for (String[] form : new String[][] {{"data", "--help"}, {"help", "data"}, {"data", "fetch", "-h"}}) {
            Result r = run(form);
            assertEquals(0, r.code(), String.join(" ", form) + ": " + r.err());
            String data = collapse(r.out());
            assertTrue(data.contains("usage: quarry data fetch mnist|fashion-mnist|cifar10 [--data-dir HOME] | list [--data-dir HOME]"), data);
            assertTrue(data.contains("--data-dir <DIR> the data home to fetch into or list (default: fetch writes to $QUARRY_DATA"), data);
        }
        String bench = collapse(run("help", "bench").out());
        for (String w : List.of("acquire", "train", "mc", "ntxent", "moco")) assertTrue(bench.contains("usage: quarry bench " + w), bench);
    }

    @Test
    void commandListExitsZeroWhenAskedForAndTwoOtherwise() {
        for (String[] args : new String[][] {{"help"}, {"--help"}, {"-h"}, {"help", "help"}}) {
            Result r = run(args);
            assertEquals(0, r.code(), String.join(" ", args));
            for (String c : Main.COMMANDS.keySet()) assertTrue(r.out().contains("  " + c + " "), c + " in " + r.out());
        }
        Result none = run();
        assertEquals(2, none.code());
        assertTrue(none.out().contains("commands:"), none.out());
        for (String[] args : new String[][] {{"frobnicate"}, {"help", "frobnicate"}, {"frobnicate", "--help"}}) {
            Result r = run(args);
            assertEquals(2, r.code(), String.join(" ", args));
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("unknown command 'frobnicate' (commands: info, train, acquire, bench, al"), r.err());
        }
    }

    @Test
    void anUnknownOptionExitsTwoWithOneLineInEveryCommand() {
        for (CommandSpec spec : allSpecs()) {
            Result r = run(words(spec, "--no-such-option", "3"));
            String what = String.join(" ", words(spec));
            assertEquals(2, r.code(), what + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), what + ": " + r.err());
            assertTrue(r.err().contains("Unrecognized option: --no-such-option"), what + ": " + r.err());
            assertEquals("", r.out(), what);
        }
    }

    @Test
    void everyAliasParsesToTheSameValueAndWarnsOnce() {
        int aliases = 0;
        for (CommandSpec spec : allSpecs())
            for (CommandSpec.Alias a : spec.aliases()) {
                aliases++;
                String value = a.when() == null ? (a.target().parser() == OptionSpec.DOUBLE ? "0.25" : "7") : "blocks";
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                Parsed old = parse(spec, err, "--" + a.name(), value);
                Parsed now = parse(spec, new ByteArrayOutputStream(), "--" + a.target().name(), value);
                String what = spec.name() + " --" + a.name();
                assertEquals(now.get(a.target()), old.get(a.target()), what);
                assertEquals(value, old.raw(a.target()), what);
                assertTrue(old.has(a.target()), what);
                String expected = a.when() == null
                        ? "quarry: --" + a.name() + " is deprecated for " + spec.name() + "; use --" + a.target().name()
                        : "quarry: --" + a.name() + " " + value + " is deprecated for " + spec.name() + "; use --" + a.target().name() + " " + value;
                assertEquals(expected + System.lineSeparator(), err.toString(), what);
                // the old and the new spelling together are refused in one line
                Main.UsageException both = assertThrows(Main.UsageException.class,
                        () -> parse(spec, new ByteArrayOutputStream(), "--" + a.name(), value, "--" + a.target().name(), value));
                assertTrue(both.getMessage().contains("give only one"), both.getMessage());
            }
        assertEquals(15, aliases, "--batch in 11 specs; --p and --dropout PLACEMENT in bench train and bench mc");
    }

    @Test
    void theFourOldMeaningsOfBatchAndTheTwoOfDropout() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        // b, the acquisition size
        assertEquals(5, parse(AcquireCommand.SPEC, err, "--batch", "5").get(Opts.ACQUISITION_SIZE));
        assertEquals(5, parse(BenchCommand.ACQUIRE, err, "--batch", "5").get(Opts.ACQUISITION_SIZE));
        // a training minibatch (al, sweep, demo, train and pretrain took --batch as a prefix of --batch-size)
        for (CommandSpec s : List.of(AlCommand.SPEC, SweepCommand.SPEC, DemoCommand.SPEC, TrainCommand.SPEC, PretrainCommand.SPEC, ModelBench.TRAIN))
            assertEquals(32, parse(s, err, "--batch", "32").get(Opts.BATCH_SIZE), s.name());
        // the MC inference chunk
        assertEquals(16, parse(ModelBench.MC, err, "--batch", "16").get(Opts.BATCH_SIZE));
        // the contrastive batch: pairs (NT-Xent), queries (MoCo)
        assertEquals(9, parse(ContrastiveBench.NTXENT, err, "--batch", "9").get(Opts.BATCH_SIZE));
        assertEquals(9, parse(ContrastiveBench.MOCO, err, "--batch", "9").get(Opts.BATCH_SIZE));
        assertEquals(11, err.toString().lines().count(), err.toString());
        // --dropout: the probability everywhere; in bench train/mc it was the placement, and --p the probability
        err.reset();
        Parsed p = parse(ModelBench.TRAIN, err, "--p", "0.3", "--dropout", "blocks");
        assertEquals(0.3, p.get(Opts.DROPOUT));
        assertEquals("blocks", p.get(Opts.DROPOUT_PLACEMENT));
        assertEquals(2, err.toString().lines().count(), err.toString());
        err.reset();
        p = parse(ModelBench.MC, err, "--dropout", "0.2", "--dropout-placement", "none");
        assertEquals(0.2, p.get(Opts.DROPOUT));
        assertEquals("none", p.get(Opts.DROPOUT_PLACEMENT));
        assertEquals("", err.toString(), "the new spellings warn about nothing");
        assertEquals(0.4, parse(AlCommand.SPEC, err, "--dropout", "0.4").get(Opts.DROPOUT));
        Result r = run("bench", "train", "--model", "resnet", "--batch-size", "4", "--dropout", "sometimes", "--device", "cpu");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--dropout must be a number, got 'sometimes'"), r.err());
    }

    /** The values the commands used to append to argv as defaults, and the shared defaults they override. */
    @Test
    void defaultsAreTheOnesTheCommandsHadBefore() {
        String[][] old = {
                {"train", "--epochs", "6", "--epoch-samples", "0", "--patience", "0", "--val", "0", "--batch-size", "64", "--test-samples", "10",
                        "--dropout", "0.5", "--model", "convnet", "--dataset", "mnist-sample", "--seed", "0", "--device", "auto"},
                {"pretrain", "--model", "resnet", "--epochs", "10", "--epoch-samples", "0", "--patience", "0", "--batch-size", "256", "--optimizer",
                        "adam", "--lr", "1e-3", "--weight-decay", "1e-6", "--schedule", "cosine", "--warmup-epochs", "1", "--val", "0", "--method", "simclr",
                        "--tau", "0.5", "--proj-dim", "128", "--queue", "4096", "--momentum-key", "0.99", "--crop-scale", "0.08"},
                {"demo", "--dataset", "mnist-sample", "--initial", "20", "--budget", "100", "--samples", "10", "--test-samples", "0", "--pool-subset",
                        "1000", "--mc-configs", "10000", "--val", "300", "--epochs", "8", "--epoch-samples", "640", "--patience", "2", "--strategies",
                        "batchbald,random", "--seeds", "0", "--out", "demo", "--batch-size", "64"},
                {"al", "--strategy", "batchbald", "--acquisition-size", "10", "--seed", "0", "--dataset", "mnist-sample", "--copies", "3", "--train-limit",
                        "0", "--model", "convnet", "--dropout", "0.5", "--dropout-placement", "classifier", "--val", "500", "--test-samples", "10",
                        "--device", "auto", "--optimizer", "adam", "--lr", "1e-3", "--weight-decay", "0", "--momentum", "0.9", "--label-smoothing", "0",
                        "--batch-size", "64", "--epochs", "30", "--epoch-samples", "5056", "--patience", "3", "--schedule", "constant", "--warmup-epochs",
                        "0", "--augment-pad", "-1", "--initial", "20", "--initial-mode", "balanced", "--budget", "300", "--target-accuracy", "0",
                        "--samples", "100", "--pool-subset", "0", "--mc-configs", "40000", "--beta", "1", "--label-noise", "0", "--chunk-mb", "512",
                        "--greedy", "full"},
                {"sweep", "--strategies", "batchbald,bald,random", "--seeds", "0", "--acquisition-sizes", "10", "--thresholds", "0.9,0.95"},
                {"acquire", "--mc-configs", "40000", "--beta", "1", "--seed", "0", "--device", "auto", "--chunk-mb", "512", "--greedy", "full"},
                {"probe", "--model", "resnet", "--dataset", "mnist-sample", "--train-limit", "0", "--epochs", "30", "--lr", "1e-3", "--seed", "0",
                        "--copies", "3"},
                {"bench acquire", "--mc-configs", "40000", "--seed", "0", "--device", "auto", "--chunk-mb", "2048", "--greedy", "full"},
                {"bench train", "--steps", "5", "--reps", "5", "--warmup", "2", "--dropout", "0.5", "--dropout-placement", "classifier", "--classes", "10",
                        "--width", "16", "--blocks", "1,1,1", "--image", "28x28x1", "--seed", "0"},
                {"bench mc", "--batch-size", "500", "--reps", "3", "--warmup", "2"},
                {"bench ntxent", "--tau", "0.5", "--repeats", "10", "--warmup", "3", "--seed", "0"},
                {"bench moco", "--tau", "0.07", "--repeats", "10", "--warmup", "3"},
        };
        for (String[] o : old) {
            CommandSpec spec = allSpecs().stream().filter(s -> s.name().equals(o[0])).findFirst().orElseThrow();
            Parsed p = parse(spec, new ByteArrayOutputStream());
            for (int i = 1; i < o.length; i += 2) {
                OptionSpec<?> opt = spec.option(o[i].substring(2));
                assertNotNull(opt, o[0] + " " + o[i]);
                assertEquals(o[i + 1], p.raw(opt), o[0] + " " + o[i]);
            }
        }
        // defaults that depend on other options
        assertEquals(1024, parse(AlCommand.SPEC, new ByteArrayOutputStream(), "--dataset", "mnist").get(Opts.VAL));
        assertEquals(4, parse(AlCommand.SPEC, new ByteArrayOutputStream(), "--dataset", "cifar10").get(Opts.AUGMENT_PAD));
        assertEquals(0.2, parse(PretrainCommand.SPEC, new ByteArrayOutputStream(), "--method", "moco").get(Opts.TAU));
        // --data-dir has no value by default: the data home (DataHome) is searched, and run.json records null
        assertNull(parse(TrainCommand.SPEC, new ByteArrayOutputStream(), "--dataset", "mnist").get(Opts.DATA_DIR));
        assertNull(parse(DataCommand.SPEC, new ByteArrayOutputStream()).get(DataCommand.HOME));
        assertEquals(300, parse(DemoCommand.SPEC, new ByteArrayOutputStream(), "--dataset", "mnist").get(Opts.VAL), "the demo's protocol");
        // a user's value overrides a command's default
        assertEquals(3, parse(TrainCommand.SPEC, new ByteArrayOutputStream(), "--epochs", "3").get(Opts.EPOCHS));
    }

    /** --greedy (lazy BatchBALD): full by default, lazy or full wherever BatchBALD runs, anything else one usage line. */
    @Test
    void greedyIsLazyOrFullInEveryCommandThatRunsBatchBald() {
        List<CommandSpec> specs = List.of(AcquireCommand.SPEC, AlCommand.SPEC, SweepCommand.SPEC, DemoCommand.SPEC, BenchCommand.ACQUIRE);
        for (CommandSpec spec : specs) {
            assertEquals(dev.quarry.acquire.Greedy.FULL, parse(spec, new ByteArrayOutputStream()).get(Opts.GREEDY), spec.name());
            assertEquals(dev.quarry.acquire.Greedy.LAZY, parse(spec, new ByteArrayOutputStream(), "--greedy", "lazy").get(Opts.GREEDY), spec.name());
        }
        String[][] lines = {
                {"al", "--out", tmp.resolve("al").toString(), "--device", "cpu"},
                {"sweep", "--out", tmp.resolve("sweep").toString(), "--device", "cpu"},
                {"demo", "--out", tmp.resolve("demo").toString(), "--device", "cpu"},
                {"bench", "acquire", "--pool", "10", "--samples", "2", "--classes", "3", "--acquisition-size", "2", "--device", "cpu"},
        };
        for (String[] line : lines) {
            String[] bad = java.util.stream.Stream.concat(Arrays.stream(line), java.util.stream.Stream.of("--greedy", "sideways")).toArray(String[]::new);
            Result r = run(bad);
            String what = String.join(" ", bad);
            assertEquals(2, r.code(), what + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), what + ": " + r.err());
            assertTrue(r.err().contains("unknown --greedy 'sideways': expected lazy or full"), what + ": " + r.err());
            assertEquals("", r.out(), what);
        }
        assertFalse(Files.exists(tmp.resolve("al")) || Files.exists(tmp.resolve("sweep")) || Files.exists(tmp.resolve("demo")), "nothing written");
    }

    @Test
    void acquireWithTheOldBatchPicksTheSamePointsAndWarnsOnce() throws Exception {
        int n = 30, k = 6, c = 4;
        float[] lp = LogProbPools.logSoftmax(n, k, c, new Random(3));
        Path in = tmp.resolve("pool.npy");
        NpyFile.write(in, lp, new int[] {n, k, c});
        Result old = run("acquire", "--logprobs", in.toString(), "--strategy", "batchbald", "--batch", "4", "--device", "cpu", "--quiet",
                "--out", tmp.resolve("old").toString());
        Result now = run("acquire", "--logprobs", in.toString(), "--strategy", "batchbald", "--acquisition-size", "4", "--device", "cpu", "--quiet",
                "--out", tmp.resolve("new").toString());
        assertEquals(0, old.code(), old.err());
        assertEquals(0, now.code(), now.err());
        assertEquals("quarry: --batch is deprecated for acquire; use --acquisition-size" + System.lineSeparator(), old.err());
        assertEquals("", now.err());
        assertArrayEquals(NpyFile.read(tmp.resolve("new").resolve("indices.npy"), Integer.MAX_VALUE).asLongArray(),
                NpyFile.read(tmp.resolve("old").resolve("indices.npy"), Integer.MAX_VALUE).asLongArray());
        assertTrue(Files.readString(tmp.resolve("old").resolve("timing.json")).contains("\"batch\" : 4"), "timing.json keeps its keys");
    }

    @Test
    void benchTrainWithTheOldSpellingsBuildsTheSameModel() {
        String[] common = {"bench", "train", "--model", "resnet", "--width", "4", "--blocks", "1,1", "--image", "12x12x3", "--steps", "1", "--reps", "1",
                "--warmup", "0", "--device", "cpu"};
        Result old = run(concat(common, "--dropout", "blocks", "--p", "0.25", "--batch", "4"));
        Result now = run(concat(common, "--dropout-placement", "blocks", "--dropout", "0.25", "--batch-size", "4"));
        assertEquals(0, old.code(), old.err());
        assertEquals(0, now.code(), now.err());
        assertTrue(old.out().contains("blocks [1, 1], dropout EVERY_BLOCK p=0.25"), old.out());
        assertTrue(now.out().contains("blocks [1, 1], dropout EVERY_BLOCK p=0.25"), now.out());
        assertTrue(old.out().contains("train: batch 4, Adam"), old.out());
        assertEquals(List.of("quarry: --dropout blocks is deprecated for bench train; use --dropout-placement blocks",
                "quarry: --batch is deprecated for bench train; use --batch-size", "quarry: --p is deprecated for bench train; use --dropout"),
                old.err().lines().toList());
        assertEquals("", now.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
