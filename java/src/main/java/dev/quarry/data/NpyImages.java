package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * An image set from a pair of .npy files: images N x H x W x C as u1 (scaled by 1/255) or f4 (taken as they are),
 * labels N as i8 in [0, classes). {@link #load} returns the scaled pixels; {@link ChannelStats} normalises them
 * per channel with statistics from the training images, or given ones.
 */
public final class NpyImages {
    private NpyImages() {}

    /** Per-channel mean and standard deviation of pixel values. */
    public record ChannelStats(float[] mean, float[] std) {
        public ChannelStats {
            if (mean.length != std.length || mean.length == 0)
                throw new IllegalArgumentException("channel stats need one mean and one std per channel, got " + mean.length + " and " + std.length);
            for (float s : std)
                if (!(s > 0) || !Float.isFinite(s)) throw new IllegalArgumentException("channel std must be positive and finite, got " + Arrays.toString(std));
            mean = mean.clone();
            std = std.clone();
        }

        /** Mean and population standard deviation of each channel over all images and pixels (float64 sums). */
        public static ChannelStats of(ImageSet s) {
            int c = s.channels();
            double[] sum = new double[c], sq = new double[c];
            float[] x = s.images();
            for (int i = 0; i < x.length; i++) sum[i % c] += x[i];
            long per = x.length / c;
            float[] mean = new float[c], std = new float[c];
            for (int j = 0; j < c; j++) mean[j] = (float) (sum[j] / per);
            for (int i = 0; i < x.length; i++) {
                double d = x[i] - sum[i % c] / per;
                sq[i % c] += d * d;
            }
            for (int j = 0; j < c; j++) {
                std[j] = (float) Math.sqrt(sq[j] / per);
                if (!(std[j] > 0)) throw new IllegalArgumentException("channel " + j + " is constant (std 0): it cannot be normalised");
            }
            return new ChannelStats(mean, std);
        }

        /** (x - mean[c]) / std[c], in place on {@code s}'s pixel array; returns {@code s}. */
        public ImageSet normalizeInPlace(ImageSet s) {
            if (s.channels() != mean.length)
                throw new IllegalArgumentException("stats for " + mean.length + " channels applied to images with " + s.channels());
            float[] x = s.images();
            int c = mean.length;
            for (int i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % c]) / std[i % c];
            return s;
        }
    }

    /** Reads and checks the pair; {@code classes} bounds the labels. Pixels are scaled, not yet normalised. */
    public static ImageSet load(Path images, Path labels, int classes) throws IOException {
        if (classes < 1) throw new IllegalArgumentException("classes must be >= 1, got " + classes);
        NpyReader.Array img = NpyReader.read(images, "u1", "f4");
        int[] s = img.shape();
        if (s.length != 4)
            throw new BadInputException(images + ": expected images N x H x W x C (rank 4), got shape " + Arrays.toString(s));
        if (Arrays.stream(s).anyMatch(d -> d < 1)) throw new BadInputException(images + ": empty image array " + Arrays.toString(s));
        NpyReader.Array lab = NpyReader.read(labels, "i8");
        if (lab.shape().length != 1) throw new BadInputException(labels + ": expected labels of shape (N,), got " + Arrays.toString(lab.shape()));
        if (lab.shape()[0] != s[0])
            throw new BadInputException(labels + ": " + lab.shape()[0] + " labels for " + s[0] + " images in " + images.getFileName());
        long[] raw = (long[]) lab.data();
        int[] y = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] < 0 || raw[i] >= classes)
                throw new BadInputException(labels + ": label " + raw[i] + " at index " + i + " is outside [0, " + classes + ")");
            y[i] = (int) raw[i];
        }
        float[] x;
        if (img.data() instanceof byte[] b) {
            x = new float[b.length];
            for (int i = 0; i < b.length; i++) x[i] = (b[i] & 0xff) / 255f;
        } else {
            x = (float[]) img.data();
            for (int i = 0; i < x.length; i++)
                if (!Float.isFinite(x[i])) throw new BadInputException(images + ": pixel " + i + " is " + x[i]);
        }
        return new ImageSet(x, y, s[0], s[1], s[2], s[3], classes);
    }
}
