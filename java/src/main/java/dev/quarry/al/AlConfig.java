package dev.quarry.al;

import dev.quarry.train.TrainConfig;

/**
 * Everything that determines an active learning run; written to run.json and read back by --resume, so a resumed
 * run continues with exactly the settings it started with.
 *
 * @param trainLimit     use only this many training images, a seeded choice (0: all); see Datasets.load
 * @param initialMode    balanced (initial / classes per class), random, or file (indices into the training set)
 * @param poolSubset     score only a seeded random subset of this many unlabelled points per round (0: all)
 * @param testSamples    MC samples for the test metrics (0: one deterministic pass with dropout off)
 * @param targetAccuracy stop once the test accuracy reaches it (0: no target)
 * @param labelNoise     probability that the oracle returns a uniformly drawn wrong label
 * @param encoder        a pretrained encoder checkpoint (quarry pretrain), or null
 * @param encoderMode    finetune (the trunk starts from the encoder every round and trains) or linear (frozen
 *                       encoder features, a dropout + linear head on top), null without an encoder
 * @param greedy         BatchBALD greedy search, lazy or full (dev.quarry.acquire.Greedy); a run.json written before
 *                       the option existed reads as full, the search those runs used
 */
public record AlConfig(String dataset, String dataDir, int copies, int trainLimit, String model, float dropout, String dropoutPlacement, String strategy, int acquisitionSize,
                       int initialSize, String initialMode, String initialFile, int valSize, int budget, double targetAccuracy,
                       int mcSamples, int testSamples, int poolSubset, int mcConfigs, double beta, double labelNoise, boolean warmStart,
                       long seed, String device, long chunkMb, TrainConfig train, String encoder, String encoderMode,
                       String greedy) {
    public AlConfig {
        if (greedy == null) greedy = dev.quarry.acquire.Greedy.FULL.cliName();
        dev.quarry.acquire.Greedy.parse(greedy);
        if (acquisitionSize < 1) throw new IllegalArgumentException("--acquisition-size must be >= 1, got " + acquisitionSize);
        if (initialSize < 1 && !"file".equals(initialMode)) throw new IllegalArgumentException("--initial must be >= 1, got " + initialSize);
        if (!initialMode.matches("balanced|random|file")) throw new IllegalArgumentException("unknown --initial-mode '" + initialMode + "' (balanced, random, file)");
        if ("file".equals(initialMode) && (initialFile == null || initialFile.isEmpty()))
            throw new IllegalArgumentException("--initial-mode file needs --initial-file");
        if (budget < 1) throw new IllegalArgumentException("--budget must be >= 1, got " + budget);
        if (!"file".equals(initialMode) && budget < initialSize)
            throw new IllegalArgumentException("--budget " + budget + " is below the initial set of " + initialSize + " labels");
        if (valSize < 0 || mcSamples < 1 || testSamples < 0 || poolSubset < 0 || mcConfigs < 1 || chunkMb < 1)
            throw new IllegalArgumentException("need --val >= 0, --samples >= 1, --test-samples >= 0, --pool-subset >= 0, --mc-configs >= 1, --chunk-mb >= 1");
        if (!(targetAccuracy >= 0 && targetAccuracy <= 1)) throw new IllegalArgumentException("--target-accuracy must be in [0, 1], got " + targetAccuracy);
        if (!(labelNoise >= 0 && labelNoise < 1)) throw new IllegalArgumentException("--label-noise must be in [0, 1), got " + labelNoise);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("--dropout must be in [0, 1), got " + dropout);
        if (trainLimit < 0) throw new IllegalArgumentException("--train-limit must be >= 0, got " + trainLimit);
        if (copies < 1) throw new IllegalArgumentException("--copies must be >= 1, got " + copies);
        Strategies.parse(strategy);
        if (encoder != null && !"finetune".equals(encoderMode) && !"linear".equals(encoderMode))
            throw new IllegalArgumentException("--encoder needs --finetune or --linear");
        if (encoder == null && encoderMode != null) throw new IllegalArgumentException("--finetune and --linear need --encoder CKPT");
        Models.placement(dropoutPlacement, dropout);
    }

    public AlConfig withRun(String strategyName, int b, long runSeed) {
        return new AlConfig(dataset, dataDir, copies, trainLimit, model, dropout, dropoutPlacement, strategyName, b, initialSize, initialMode, initialFile, valSize, budget,
                targetAccuracy, mcSamples, testSamples, poolSubset, mcConfigs, beta, labelNoise, warmStart, runSeed, device, chunkMb, train, encoder,
                encoderMode, greedy);
    }
}
