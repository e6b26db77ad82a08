package dev.quarry.data;

/** Normalised images, NHWC float32, with integer labels in [0, classes). */
public record ImageSet(float[] images, int[] labels, int n, int height, int width, int channels, int classes) {
    /** Floats per image. */
    public int pixels() {
        return height * width * channels;
    }

    /** Copies images {@code idx[from..from+count)} into {@code dst} (NHWC) and their labels into {@code dstLabels}. */
    public void gather(int[] idx, int from, int count, float[] dst, int[] dstLabels) {
        int p = pixels();
        for (int j = 0; j < count; j++) {
            System.arraycopy(images, idx[from + j] * p, dst, j * p, p);
            dstLabels[j] = labels[idx[from + j]];
        }
    }
}
