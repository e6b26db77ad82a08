package dev.quarry.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quarry.engine.Device;
import dev.quarry.engine.QuarryNative;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.Loader;

/** {@code quarry info [--json]}: backends, the GPU (or why there is none), and versions. */
final class InfoCommand {
    private InfoCommand() {}

    static final OptionSpec<Boolean> JSON = OptionSpec.flag("json", "print JSON");
    static final CommandSpec SPEC = new CommandSpec("info", "[--json]", "backends, the GPU (or why there is none), and versions",
            List.of(JSON), List.of());

    static int run(String[] args, java.io.PrintStream out, java.io.PrintStream err) {
        Parsed p = Cli.parse(SPEC, args, err);
        Map<String, Object> info = collect();
        if (p.flag(JSON)) {
            try {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(info));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        } else {
            print(info, "", out);
        }
        return 0;
    }

    static Map<String, Object> collect() {
        Map<String, Object> info = new LinkedHashMap<>();
        Map<String, Object> versions = new LinkedHashMap<>();
        versions.put("quarry", QuarryNative.qy_version());
        versions.put("java", System.getProperty("java.version"));
        versions.put("javacpp", javacppVersion());
        versions.put("openblas", QuarryNative.qy_blas_info());
        info.put("versions", versions);

        Map<String, Object> cpu = new LinkedHashMap<>();
        cpu.put("available", true);
        cpu.put("threads", QuarryNative.qy_cpu_threads());
        cpu.put("arch", System.getProperty("os.arch"));
        Map<String, Object> cuda = new LinkedHashMap<>();
        cuda.put("compiled", QuarryNative.qy_cuda_compiled() != 0);
        Device.CudaProbe probe = Device.probeCuda();
        cuda.put("available", probe.available());
        if (probe.available()) {
            Device.CudaInfo d = probe.info();
            cuda.put("device", d.name());
            cuda.put("memory_gib", Math.round(d.totalBytes() / (1024.0 * 1024 * 1024) * 10) / 10.0);
            cuda.put("compute_capability", d.computeCapability());
            cuda.put("driver_version", formatCudaVersion(d.driverVersion()));
            cuda.put("runtime_version", formatCudaVersion(d.runtimeVersion()));
        } else {
            cuda.put("reason", probe.reason());
        }
        Map<String, Object> backends = new LinkedHashMap<>();
        backends.put("cpu", cpu);
        backends.put("cuda", cuda);
        info.put("backends", backends);
        info.put("default_device", probe.available() ? "cuda" : "cpu");
        return info;
    }

    private static String javacppVersion() {
        try {
            return Loader.getVersion();
        } catch (java.io.IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private static String formatCudaVersion(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    @SuppressWarnings("unchecked")
    private static void print(Map<String, Object> map, String indent, java.io.PrintStream out) {
        for (Map.Entry<String, Object> e : map.entrySet()) {
            if (e.getValue() instanceof Map<?, ?> sub) {
                out.println(indent + e.getKey() + ":");
                print((Map<String, Object>) sub, indent + "  ", out);
            } else {
                out.println(indent + e.getKey() + ": " + e.getValue());
            }
        }
    }
}
