package dev.quarry.nn;

import java.util.Arrays;

/**
 * Shape of a basic-block ResNet for small images: input channels, classes, the stem's width (stage s has
 * {@code baseWidth << s} channels), blocks per stage, and where MC dropout goes.
 *
 * @param blocksPerStage one entry per stage; stages after the first halve the resolution in their first block
 * @param dropoutP       the dropout probability, used unless {@code dropout} is {@link DropoutPlacement#NONE}
 */
public record ResNetConfig(int inChannels, int classes, int baseWidth, int[] blocksPerStage, DropoutPlacement dropout, float dropoutP) {
    /**
     * Where the dropout layers sit. They are always top-level layers of the returned Sequential, so
     * {@code McInference} runs everything before the first one once per input.
     */
    public enum DropoutPlacement {
        /** No dropout: a deterministic network. */
        NONE,
        /** Dropout on the pooled features, right before the classifier: the whole conv trunk runs once in MC inference. */
        CLASSIFIER,
        /** Dropout2d (whole channels, consistent MC masks) after every residual block. */
        EVERY_BLOCK
    }

    /** Init streams of block convs are 2 x (10 x block id + j) and must stay below the classifier's (1000). */
    static final int MAX_BLOCKS = 49;

    public ResNetConfig {
        blocksPerStage = blocksPerStage.clone();
        if (inChannels < 1 || classes < 1 || baseWidth < 1)
            throw new IllegalArgumentException("ResNet needs inChannels, classes and baseWidth >= 1, got " + inChannels + ", " + classes + ", " + baseWidth);
        if (blocksPerStage.length < 1 || Arrays.stream(blocksPerStage).anyMatch(b -> b < 1))
            throw new IllegalArgumentException("ResNet needs one or more stages of >= 1 block, got " + Arrays.toString(blocksPerStage));
        if (Arrays.stream(blocksPerStage).sum() > MAX_BLOCKS)
            throw new IllegalArgumentException("ResNet supports at most " + MAX_BLOCKS + " blocks, got " + Arrays.toString(blocksPerStage));
        if ((long) baseWidth << (blocksPerStage.length - 1) > 1 << 16)
            throw new IllegalArgumentException("ResNet width " + baseWidth + " x 2^" + (blocksPerStage.length - 1) + " is too large");
        if (dropout == null) throw new IllegalArgumentException("ResNet dropout placement is null (use NONE)");
        if (dropout != DropoutPlacement.NONE && !(dropoutP > 0f && dropoutP < 1f))
            throw new IllegalArgumentException("ResNet dropout p must be in (0, 1) with placement " + dropout + ", got " + dropoutP);
    }

    /** ResNet-18, CIFAR variant: 3x3 stem without max-pool, widths 64-128-256-512, two blocks per stage. */
    public static ResNetConfig cifar18(int classes, DropoutPlacement dropout, float p) {
        return new ResNetConfig(3, classes, 64, new int[] {2, 2, 2, 2}, dropout, p);
    }

    /** Channels of stage s. */
    public int width(int stage) {
        return baseWidth << stage;
    }

    @Override
    public int[] blocksPerStage() {
        return blocksPerStage.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ResNetConfig c && inChannels == c.inChannels && classes == c.classes && baseWidth == c.baseWidth
                && Arrays.equals(blocksPerStage, c.blocksPerStage) && dropout == c.dropout && Float.compare(dropoutP, c.dropoutP) == 0;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * inChannels + classes) + baseWidth) + Arrays.hashCode(blocksPerStage) + 7 * dropout.hashCode();
    }

    @Override
    public String toString() {
        return "ResNet(in " + inChannels + ", classes " + classes + ", width " + baseWidth + ", blocks " + Arrays.toString(blocksPerStage)
                + ", dropout " + dropout + (dropout == DropoutPlacement.NONE ? "" : " p=" + dropoutP) + ")";
    }
}
