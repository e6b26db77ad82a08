package dev.quarry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quarry.data.ImageSet;
import dev.quarry.data.Mnist;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Adam;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.Models;
import dev.quarry.nn.Sequential;
import dev.quarry.train.McInference;
import dev.quarry.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry train --dataset mnist|fashion-mnist|mnist-sample --model convnet --epochs E --out DIR}: trains the
 * BatchBALD MNIST ConvNet with Adam and writes DIR/metrics.json (MC-mean test accuracy and NLL) and
 * DIR/model.safetensors. mnist-sample is the shipped MNIST test set split by seed into 8,000 train / 2,000 test.
 * (Part of issue #4: ResNet, CIFAR-10, schedules and early stopping are still to come.)
 */
final class TrainCommand {
    private TrainCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = new Options()
                .addOption(Option.builder().longOpt("dataset").hasArg().required().desc("mnist | fashion-mnist | mnist-sample").get())
                .addOption(Option.builder().longOpt("data-dir").hasArg().desc("folder with the IDX files (default datasets/mnist)").get())
                .addOption(Option.builder().longOpt("model").hasArg().desc("convnet (default)").get())
                .addOption(Option.builder().longOpt("epochs").hasArg().desc("passes over the training set (default 6)").get())
                .addOption(Option.builder().longOpt("train-size").hasArg().desc("use only the first N training images (seeded order)").get())
                .addOption(Option.builder().longOpt("mc-samples").hasArg().desc("MC dropout samples at test time (default 10)").get())
                .addOption(Option.builder().longOpt("seed").hasArg().get())
                .addOption(Option.builder().longOpt("device").hasArg().get())
                .addOption(Option.builder().longOpt("quiet").get())
                .addOption(Option.builder().longOpt("out").hasArg().required().get());
        CommandLine cl = Args.parse(options, args);
        String dataset = cl.getOptionValue("dataset");
        if (!dataset.matches("mnist|fashion-mnist|mnist-sample"))
            throw new Main.UsageException("unknown dataset '" + dataset + "' (this build trains on mnist, fashion-mnist, mnist-sample)");
        if (!cl.getOptionValue("model", "convnet").equals("convnet"))
            throw new Main.UsageException("unknown model '" + cl.getOptionValue("model") + "' (this build trains: convnet)");
        int epochs = Args.intOption(cl, "epochs", 6), samples = Args.intOption(cl, "mc-samples", 10);
        int trainSize = Args.intOption(cl, "train-size", Integer.MAX_VALUE);
        long seed = Args.longOption(cl, "seed", 0);
        if (epochs < 1 || samples < 1 || trainSize < 64) throw new Main.UsageException("need --epochs >= 1, --mc-samples >= 1, --train-size >= 64");
        boolean quiet = cl.hasOption("quiet");
        Path outDir = Path.of(cl.getOptionValue("out"));

        ImageSet train, test;
        int[] trainIdx, testIdx;
        try {
            Path dir = Path.of(cl.getOptionValue("data-dir", "datasets/mnist"));
            if (dataset.equals("mnist-sample")) {
                train = test = Mnist.load(dir.resolve("t10k-images-idx3-ubyte.gz"), dir.resolve("t10k-labels-idx1-ubyte.gz"));
                int[] perm = permutation(train.n(), seed);
                trainIdx = Arrays.copyOfRange(perm, 0, 8000);
                testIdx = Arrays.copyOfRange(perm, 8000, train.n());
            } else {
                ImageSet[] split = Mnist.loadSplit(dir);
                train = split[0];
                test = split[1];
                trainIdx = permutation(train.n(), seed);
                testIdx = permutation(test.n(), seed);
                Arrays.sort(testIdx);
            }
        } catch (IOException e) {
            throw new Main.UsageException(e.getMessage());
        }
        if (trainSize < trainIdx.length) trainIdx = Arrays.copyOf(trainIdx, trainSize);
        Device device = Device.select(cl.getOptionValue("device", "auto"), quiet ? null : err);

        long t0 = System.nanoTime();
        Map<String, Object> metrics = new LinkedHashMap<>();
        try (Sequential net = Models.mnistConvNet(device, 0.5f, seed); Adam opt = Adam.standard(net.params(), 1e-3f)) {
            double loss = Trainer.fit(net, opt, train, trainIdx, epochs, 64, seed, device, ConsoleProgress.forFlags(quiet));
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            float[] xb = new float[testIdx.length * test.pixels()];
            int[] yb = new int[testIdx.length];
            test.gather(testIdx, 0, testIdx.length, xb, yb);
            float[] lp;
            try (Tensor x = Tensor.of(device, xb, testIdx.length, test.height(), test.width(), test.channels())) {
                lp = new McInference(net).logProbs(x, samples);
            }
            metrics.put("dataset", dataset);
            metrics.put("model", "convnet");
            metrics.put("device", device.toString());
            metrics.put("seed", seed);
            metrics.put("train_size", trainIdx.length);
            metrics.put("test_size", testIdx.length);
            metrics.put("epochs", epochs);
            metrics.put("last_epoch_train_loss", loss);
            metrics.put("mc_samples", samples);
            metrics.put("test_accuracy", McInference.accuracy(lp, yb, samples, 10));
            metrics.put("test_nll", meanNll(lp, yb, samples, 10));
            metrics.put("train_seconds", trainSeconds);
            metrics.put("total_seconds", (System.nanoTime() - t0) / 1e9);
            Npy.AtomicWriter w = new Npy.AtomicWriter(outDir);
            try {
                Checkpoint.save(w.stage("model.safetensors"), net, opt, Map.of("model", "convnet", "dataset", dataset));
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(w.stage("metrics.json").toFile(), metrics);
                w.commit();
            } catch (IOException | RuntimeException e) {
                w.abort();
                throw new Main.UsageException("cannot write results to " + outDir + ": " + e.getMessage());
            }
        }
        if (!quiet)
            out.printf("quarry train: test accuracy %.4f, NLL %.4f (MC mean of %d) after %d epochs on %d images; wrote %s%n",
                    (double) metrics.get("test_accuracy"), (double) metrics.get("test_nll"), samples, epochs, trainIdx.length, outDir);
        return 0;
    }

    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Mean negative log of the MC-mean probability of the true class. */
    static double meanNll(float[] lp, int[] labels, int samples, int classes) {
        double total = 0;
        for (int i = 0; i < labels.length; i++) {
            double p = 0;
            for (int k = 0; k < samples; k++) p += Math.exp(lp[(i * samples + k) * classes + labels[i]]) / samples;
            total -= Math.log(Math.max(p, 1e-300));
        }
        return total / labels.length;
    }
}
