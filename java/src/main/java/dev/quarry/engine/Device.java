package dev.quarry.engine;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A backend plus its stream. {@link #select} implements {@code --device auto|cpu|cuda}: auto takes CUDA when the
 * library was built with it and a GPU answers, otherwise the CPU, and says why in one line. Setting the
 * environment variable QUARRY_REQUIRE_GPU=1 turns that fallback into an error, so a GPU host can prove the CUDA
 * path ran.
 */
public final class Device {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0L, null);

    private final Kind kind;
    private final long stream;
    private final CudaInfo info;

    private Device(Kind kind, long stream, CudaInfo info) {
        this.kind = kind;
        this.stream = stream;
        this.info = info;
    }

    /** Facts about a CUDA device. */
    public record CudaInfo(String name, long totalBytes, int ccMajor, int ccMinor, int driverVersion, int runtimeVersion) {
        public String computeCapability() {
            return ccMajor + "." + ccMinor;
        }
    }

    /** The outcome of probing for a GPU: the device info, or the reason there is none. */
    public record CudaProbe(CudaInfo info, String reason) {
        public boolean available() {
            return info != null;
        }
    }

    public static Device cpu() {
        return CPU;
    }

    /** Probes CUDA device 0 without throwing. */
    public static CudaProbe probeCuda() {
        if (QuarryNative.qy_cuda_compiled() == 0)
            return new CudaProbe(null, "this build of Quarry has no CUDA backend (nvcc was not found, or QUARRY_CUDA=OFF)");
        int[] count = new int[1];
        if (QuarryNative.qy_cuda_device_count(count) != QuarryNative.QY_OK || count[0] == 0)
            return new CudaProbe(null, QuarryNative.qy_last_error());
        byte[] name = new byte[256];
        long[] total = new long[1];
        int[] major = new int[1], minor = new int[1], driver = new int[1], runtime = new int[1];
        if (QuarryNative.qy_cuda_device_info(0, name, name.length, total, major, minor, driver, runtime) != QuarryNative.QY_OK)
            return new CudaProbe(null, QuarryNative.qy_last_error());
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        String text = new String(name, 0, len, StandardCharsets.UTF_8);
        return new CudaProbe(new CudaInfo(text, total[0], major[0], minor[0], driver[0], runtime[0]), null);
    }

    /** The CUDA device 0 on a stream of its own; throws with the reason when there is none. */
    public static Device cuda() {
        CudaProbe probe = probeCuda();
        if (!probe.available())
            throw new QuarryException(QuarryNative.QY_ERR_NO_DEVICE, "--device cuda: no usable GPU: " + probe.reason());
        long[] out = new long[1];
        Ops.check(QuarryNative.qy_stream_create(QuarryNative.QY_DEV_CUDA, out), "stream_create");
        return new Device(Kind.CUDA, out[0], probe.info());
    }

    /**
     * Resolves {@code auto|cpu|cuda}. For auto, writes one line to {@code log} saying which backend runs and, when
     * it falls back to the CPU, why.
     */
    public static Device select(String spec, java.io.PrintStream log) {
        String s = spec == null ? "auto" : spec.toLowerCase(Locale.ROOT);
        switch (s) {
            case "cpu":
                return CPU;
            case "cuda":
                return cuda();
            case "auto": {
                CudaProbe probe = probeCuda();
                if (probe.available()) {
                    Device d = cuda();
                    if (log != null) log.println("quarry: using CUDA device 0: " + probe.info().name());
                    return d;
                }
                if ("1".equals(System.getenv("QUARRY_REQUIRE_GPU")))
                    throw new QuarryException(QuarryNative.QY_ERR_NO_DEVICE,
                            "QUARRY_REQUIRE_GPU=1 but no usable GPU: " + probe.reason());
                if (log != null)
                    log.println("quarry: no usable GPU (" + probe.reason() + "); using the CPU backend with "
                            + QuarryNative.qy_cpu_threads() + " threads");
                return CPU;
            }
            default:
                throw new QuarryException("unknown device '" + spec + "': expected auto, cpu or cuda");
        }
    }

    public Kind kind() {
        return kind;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** Null on the CPU. */
    public CudaInfo cudaInfo() {
        return info;
    }

    int code() {
        return kind == Kind.CUDA ? QuarryNative.QY_DEV_CUDA : QuarryNative.QY_DEV_CPU;
    }

    long stream() {
        return stream;
    }

    /** Waits for all work queued on this device's stream. */
    public void sync() {
        Ops.check(QuarryNative.qy_stream_sync(code(), stream), "stream_sync");
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:0 (" + info.name() + ")";
    }
}
