package dev.quarry.engine;

import java.util.Arrays;

/**
 * A dense, device-resident array (float32 or int32) with an explicit lifetime: {@link #close} frees its memory,
 * and any later use throws. Views ({@link #view}) share the memory of their owner and die with it.
 */
public final class Tensor implements AutoCloseable {
    public enum DType {
        F32(4), I32(4), F64(8), I64(8);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    private final Device device;
    private final DType dtype;
    private final int[] shape;
    private final long numel;
    private final Tensor owner;
    private long address;
    private boolean closed;

    private Tensor(Device device, DType dtype, int[] shape, long address, Tensor owner) {
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = count(shape);
        this.address = address;
        this.owner = owner;
    }

    private static long count(int[] shape) {
        if (shape.length == 0) throw new QuarryException("tensor: a shape needs at least one dimension");
        long n = 1;
        for (int d : shape) {
            if (d <= 0) throw new QuarryException("tensor: every dimension must be positive, got " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Uninitialised memory of the given shape on {@code device}. */
    public static Tensor empty(Device device, DType dtype, int... shape) {
        long bytes = Math.multiplyExact(count(shape), (long) dtype.bytes);
        long[] out = new long[1];
        Ops.check(QuarryNative.qy_malloc(device.code(), bytes, out), "malloc " + Arrays.toString(shape));
        return new Tensor(device, dtype, shape, out[0], null);
    }

    public static Tensor empty(Device device, int... shape) {
        return empty(device, DType.F32, shape);
    }

    public static Tensor zeros(Device device, int... shape) {
        Tensor t = empty(device, DType.F32, shape);
        Ops.fill(t, 0f);
        return t;
    }

    public static Tensor of(Device device, float[] data, int... shape) {
        return filled(empty(device, DType.F32, shape), t -> t.upload(data));
    }

    public static Tensor ofInts(Device device, int[] data, int... shape) {
        return filled(empty(device, DType.I32, shape), t -> t.upload(data));
    }

    public static Tensor ofDoubles(Device device, double[] data, int... shape) {
        return filled(empty(device, DType.F64, shape), t -> t.upload(data));
    }

    /** Runs {@code fill} on a new tensor, closing it if that fails so nothing leaks. */
    private static Tensor filled(Tensor t, java.util.function.Consumer<Tensor> fill) {
        try {
            fill.accept(t);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    public void upload(float[] data) {
        checkTransfer(DType.F32, data == null ? -1 : data.length, "upload");
        Ops.check(QuarryNative.qy_upload(device.code(), device.stream(), address(), data, numel * 4), "upload " + describe());
    }

    public void upload(int[] data) {
        checkTransfer(DType.I32, data == null ? -1 : data.length, "upload");
        Ops.check(QuarryNative.qy_upload(device.code(), device.stream(), address(), data, numel * 4), "upload " + describe());
    }

    public void upload(double[] data) {
        checkTransfer(DType.F64, data == null ? -1 : data.length, "upload");
        Ops.check(QuarryNative.qy_upload(device.code(), device.stream(), address(), data, numel * 8), "upload " + describe());
    }

    /**
     * Copies {@code count} elements from host memory at {@code hostAddress} (an off-heap buffer's address plus
     * an offset) into the first elements of this tensor: streams chunks of a large array without a heap copy.
     */
    public void uploadFrom(long hostAddress, long count) {
        checkOpen();
        if (hostAddress == 0 || count <= 0 || count > numel)
            throw new QuarryException("upload: " + count + " elements from host memory into " + describe());
        Ops.check(QuarryNative.qy_upload(device.code(), device.stream(), address(), hostAddress, count * dtype.bytes), "upload " + describe());
    }

    public double[] toDoubles() {
        checkTransfer(DType.F64, (int) Math.min(numel, Integer.MAX_VALUE), "download");
        double[] out = new double[(int) numel];
        Ops.check(QuarryNative.qy_download(device.code(), device.stream(), out, address(), numel * 8), "download " + describe());
        return out;
    }

    public float[] toFloats() {
        checkTransfer(DType.F32, (int) Math.min(numel, Integer.MAX_VALUE), "download");
        float[] out = new float[(int) numel];
        Ops.check(QuarryNative.qy_download(device.code(), device.stream(), out, address(), numel * 4), "download " + describe());
        return out;
    }

    public int[] toInts() {
        checkTransfer(DType.I32, (int) Math.min(numel, Integer.MAX_VALUE), "download");
        int[] out = new int[(int) numel];
        Ops.check(QuarryNative.qy_download(device.code(), device.stream(), out, address(), numel * 4), "download " + describe());
        return out;
    }

    private void checkTransfer(DType want, int length, String what) {
        checkOpen();
        if (dtype != want) throw new QuarryException(what + ": tensor " + describe() + " is not " + want);
        if (length < 0) throw new QuarryException(what + ": array is null");
        if (numel > Integer.MAX_VALUE) throw new QuarryException(what + ": tensor " + describe() + " is too large for a Java array");
        if (length != numel)
            throw new QuarryException(what + ": array of " + length + " elements for tensor " + describe());
    }

    /** A tensor sharing this one's memory with another shape of the same element count. */
    public Tensor view(int... newShape) {
        checkOpen();
        if (count(newShape) != numel)
            throw new QuarryException("view: cannot view " + describe() + " as " + Arrays.toString(newShape));
        return new Tensor(device, dtype, newShape, address, owner == null ? this : owner);
    }

    /** Rows [start, start + count) of the leading dimension, as a view. */
    public Tensor slice(int start, int count) {
        checkOpen();
        if (start < 0 || count <= 0 || count > shape[0] - start)
            throw new QuarryException("slice: rows [" + start + ", " + (start + count) + ") of " + describe());
        int[] s = shape.clone();
        s[0] = count;
        long rowElems = numel / shape[0];
        return new Tensor(device, dtype, s, address + start * rowElems * dtype.bytes, owner == null ? this : owner);
    }

    /** Copies {@code src} (same device, dtype and element count) into this tensor. */
    public void copyFrom(Tensor src) {
        if (src.device != device || src.dtype != dtype || src.numel != numel)
            throw new QuarryException("copy: " + src.describe() + " into " + describe() + ": device, dtype or size differ");
        Ops.check(QuarryNative.qy_copy(device.code(), device.stream(), address(), src.address(), numel * dtype.bytes), "copy " + describe());
    }

    /** The address of element {@code index} (for ops over a slice of the leading dimension). */
    public long address(long index) {
        checkOpen();
        if (index < 0 || index >= numel) throw new QuarryException("element " + index + " outside " + describe());
        return address + index * dtype.bytes;
    }

    public long address() {
        checkOpen();
        return address;
    }

    public boolean isOpen() {
        return !closed && (owner == null || owner.isOpen());
    }

    void checkOpen() {
        if (!isOpen()) throw new QuarryException("tensor " + Arrays.toString(shape) + " is closed");
    }

    public Device device() {
        return device;
    }

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return numel;
    }

    /** "f32[2, 3, 5] on cpu". */
    public String describe() {
        return dtype.name().toLowerCase() + Arrays.toString(shape) + " on " + device.kind().name().toLowerCase();
    }

    @Override
    public String toString() {
        return "Tensor " + describe() + (isOpen() ? "" : " (closed)");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owner == null && address != 0) {
            int status = QuarryNative.qy_free(device.code(), address);
            address = 0;
            Ops.check(status, "free " + describe());
        }
    }
}
