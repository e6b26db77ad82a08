package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin): records of one label byte and 3,072 pixel bytes
 * (the red, green and blue 32 x 32 planes, row-major). Images become NHWC float32 normalised per channel with
 * the usual training-set statistics.
 */
public final class Cifar10 {
    public static final int SIDE = 32, RECORD = 1 + 3 * SIDE * SIDE;
    static final float[] MEAN = {0.4914f, 0.4822f, 0.4465f}, STD = {0.2470f, 0.2435f, 0.2616f};

    private Cifar10() {}

    public static ImageSet load(List<Path> batches) throws IOException {
        long total = 0;
        long[] sizes = new long[batches.size()];
        int k = 0;
        for (Path p : batches) {
            if (!Files.isRegularFile(p)) throw new BadInputException(p + ": no such file");
            long size = Files.size(p);
            if (size == 0 || size % RECORD != 0)
                throw new BadInputException(p + ": " + size + " bytes is not a whole number of " + RECORD + "-byte CIFAR-10 records (truncated?)");
            total += size / RECORD;
            sizes[k++] = size;
        }
        if (total > Integer.MAX_VALUE / (3 * SIDE * SIDE)) throw new BadInputException("too many CIFAR-10 records: " + total);
        long need = total * 3 * SIDE * SIDE * 4;
        if (need > Runtime.getRuntime().maxMemory())
            throw new BadInputException(total + " CIFAR-10 records need " + (need >> 20) + " MiB of pixels, more than the Java heap ("
                    + (Runtime.getRuntime().maxMemory() >> 20) + " MiB): raise -Xmx or use fewer batches");
        int n = (int) total, plane = SIDE * SIDE;
        k = 0;
        float[] x = new float[n * 3 * plane];
        int[] y = new int[n];
        int i = 0;
        for (Path p : batches) {
            byte[] b = Files.readAllBytes(p);
            if (b.length != sizes[k++]) throw new BadInputException(p + ": changed while being read (" + b.length + " bytes, was " + sizes[k - 1] + ")");
            for (int r = 0; r < b.length / RECORD; r++, i++) {
                int o = r * RECORD;
                y[i] = b[o] & 0xff;
                if (y[i] > 9) throw new BadInputException(p + ": record " + r + " has label " + y[i]);
                for (int pix = 0; pix < plane; pix++)
                    for (int c = 0; c < 3; c++)
                        x[(i * plane + pix) * 3 + c] = ((b[o + 1 + c * plane + pix] & 0xff) / 255f - MEAN[c]) / STD[c];
            }
        }
        return new ImageSet(x, y, n, SIDE, SIDE, 3, 10);
    }

    /** {train, test} from the standard file names in {@code dir}. */
    public static ImageSet[] loadSplit(Path dir) throws IOException {
        List<Path> train = List.of(dir.resolve("data_batch_1.bin"), dir.resolve("data_batch_2.bin"), dir.resolve("data_batch_3.bin"),
                dir.resolve("data_batch_4.bin"), dir.resolve("data_batch_5.bin"));
        return new ImageSet[] {load(train), load(List.of(dir.resolve("test_batch.bin")))};
    }
}
