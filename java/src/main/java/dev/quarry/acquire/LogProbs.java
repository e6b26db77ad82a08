package dev.quarry.acquire;

import dev.quarry.engine.Tensor;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * MC-dropout log-softmax outputs of a pool, n x k x c, held off-heap on the host (float32 or float64) so that
 * chunks stream to the device without heap copies. Construction validates every element.
 */
public final class LogProbs implements AutoCloseable {
    private final Pointer data;
    /** Device-resident outputs (MC inference wrote them there); null when the values live in {@code data}. */
    private final Tensor tensor;
    private final Tensor.DType dtype;
    private final int n, k, c;
    private boolean closed;

    private LogProbs(Pointer data, Tensor.DType dtype, int n, int k, int c) {
        this.data = data;
        this.tensor = null;
        this.dtype = dtype;
        this.n = n;
        this.k = k;
        this.c = c;
    }

    /**
     * Takes ownership of a device tensor [n][k][c] written by MC inference (log-softmax outputs of the engine's own
     * op, so not re-validated): chunks are copied device to device, nothing crosses to the host.
     */
    public static LogProbs ofTensor(Tensor nkc) {
        if (nkc.rank() != 3 || (nkc.dtype() != Tensor.DType.F32 && nkc.dtype() != Tensor.DType.F64))
            throw new IllegalArgumentException("log-probabilities must be a float32/float64 n x k x c tensor, got " + nkc.describe());
        return new LogProbs(nkc);
    }

    private LogProbs(Tensor nkc) {
        this.data = null;
        this.tensor = nkc;
        this.dtype = nkc.dtype();
        this.n = nkc.dim(0);
        this.k = nkc.dim(1);
        this.c = nkc.dim(2);
    }

    public static LogProbs ofFloats(float[] values, int n, int k, int c) {
        checkShape(values.length, n, k, c);
        validate(i -> values[i], n, k, c);
        return new LogProbs(new FloatPointer(values), Tensor.DType.F32, n, k, c);
    }

    public static LogProbs ofDoubles(double[] values, int n, int k, int c) {
        checkShape(values.length, n, k, c);
        validate(i -> values[i], n, k, c);
        return new LogProbs(new DoublePointer(values), Tensor.DType.F64, n, k, c);
    }

    private static void checkShape(long length, int n, int k, int c) {
        if (n <= 0 || k <= 0 || c <= 0 || (long) n * k * c != length)
            throw new IllegalArgumentException("log-probabilities must be n x k x c with positive sizes, got " + n + " x " + k + " x " + c
                    + " for " + length + " values");
    }

    /**
     * Refuses NaN and +inf (-inf is a legal log 0), and rows that are not normalised log-probabilities
     * (|sum_c p - 1| > 1e-3), naming the first offending element.
     */
    private static void validate(java.util.function.IntToDoubleFunction at, int n, int k, int c) {
        long bad = IntStream.range(0, n).parallel().mapToLong(i -> {
            for (int kk = 0; kk < k; kk++) {
                double sum = 0;
                int base = (i * k + kk) * c;
                for (int j = 0; j < c; j++) {
                    double v = at.applyAsDouble(base + j);
                    if (Double.isNaN(v) || v == Double.POSITIVE_INFINITY || v > 1e-4) return ((long) base + j) * 2;
                    sum += Math.exp(v);
                }
                if (Math.abs(sum - 1) > 1e-3) return ((long) base) * 2 + 1;
            }
            return Long.MAX_VALUE;
        }).min().getAsLong();
        if (bad == Long.MAX_VALUE) return;
        long e = bad / 2;
        int i = (int) (e / ((long) k * c)), kk = (int) (e / c % k), j = (int) (e % c);
        if (bad % 2 == 0)
            throw new IllegalArgumentException("log-probability [" + i + ", " + kk + ", " + j + "] is " + at.applyAsDouble((int) e)
                    + ": expected a finite value <= 0 or -inf");
        throw new IllegalArgumentException("row [" + i + ", " + kk + "] is not a log-softmax output: its probabilities do not sum to 1");
    }

    public int n() {
        return n;
    }

    public int k() {
        return k;
    }

    public int c() {
        return c;
    }

    public Tensor.DType dtype() {
        return dtype;
    }

    /** Per point, the class with the largest MC-mean probability (ties to the lower class). */
    public int[] predictedClasses() {
        if (closed) throw new IllegalStateException("log-probabilities are closed");
        int[] out = new int[n];
        double[] row = new double[k * c];
        float[] f = new float[k * c];
        double[] mean = new double[c];
        float[] host = tensor != null && dtype == Tensor.DType.F32 ? tensor.toFloats() : null;
        double[] hostD = tensor != null && dtype == Tensor.DType.F64 ? tensor.toDoubles() : null;
        for (int i = 0; i < n; i++) {
            long base = (long) i * k * c;
            if (host != null) {
                for (int j = 0; j < k * c; j++) row[j] = host[(int) base + j];
            } else if (hostD != null) {
                System.arraycopy(hostD, (int) base, row, 0, k * c);
            } else if (dtype == Tensor.DType.F32) {
                ((FloatPointer) data.position(base)).get(f);
                data.position(0);
                for (int j = 0; j < f.length; j++) row[j] = f[j];
            } else {
                ((DoublePointer) data.position(base)).get(row);
                data.position(0);
            }
            java.util.Arrays.fill(mean, 0);
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < c; j++) mean[j] += Math.exp(row[kk * c + j]);
            int best = 0;
            for (int j = 1; j < c; j++)
                if (mean[j] > mean[best]) best = j;
            out[i] = best;
        }
        return out;
    }

    /** Copies points [start, start + rows) into the first rows of {@code dst} (same dtype, [>= rows][k][c]). */
    void uploadRows(int start, int rows, Tensor dst) {
        if (closed) throw new IllegalStateException("log-probabilities are closed");
        if (start < 0 || rows <= 0 || rows > n - start || dst.dtype() != dtype)
            throw new IllegalArgumentException("rows [" + start + ", " + ((long) start + rows) + ") of " + n + " into " + dst.describe());
        long perPoint = (long) k * c * (dtype == Tensor.DType.F32 ? 4L : 8L);
        if (tensor == null) {
            dst.uploadFrom(data.address() + start * perPoint, (long) rows * k * c);
        } else if (dst.device() == tensor.device()) {
            dst.slice(0, rows).copyFrom(tensor.slice(start, rows));
        } else if (dtype == Tensor.DType.F32) {
            dst.slice(0, rows).upload(tensor.slice(start, rows).toFloats());
        } else {
            dst.slice(0, rows).upload(tensor.slice(start, rows).toDoubles());
        }
    }

    @Override
    public void close() {
        closed = true;
        if (data != null) data.close();
        if (tensor != null) tensor.close();
    }
}
