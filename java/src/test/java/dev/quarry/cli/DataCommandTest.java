package dev.quarry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.data.Checksum;
import dev.quarry.data.DataCatalog;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCommandTest {
    @TempDir
    Path tmp;

    @AfterEach
    void restore() {
        DataCommand.catalog = DataCatalog.defaults();
    }

    private int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void fetchFromAFileUrlThenListShowsItVerifiedAndThenDamaged() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("mirror"));
        byte[] body = "not really mnist, but checksummed".getBytes(StandardCharsets.UTF_8);
        Files.write(src.resolve("f.bin"), body);
        String sha = Checksum.sha256("0").of(src.resolve("f.bin"));
        DataCommand.catalog = new DataCatalog(List.of(new DataCatalog.Entry("mnist", "mnist-full",
                List.of(new DataCatalog.FileSpec("f.bin", Checksum.sha256(sha))), List.of(src.toUri().toString()), null, null)));
        Path home = tmp.resolve("home");
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(0, run(out, err, "data", "fetch", "mnist", "--data-dir", home.toString()), err.toString());
        assertArrayEquals(body, Files.readAllBytes(home.resolve("mnist-full/f.bin")));

        out.reset();
        assertEquals(0, run(out, err, "data", "list", "--data-dir", home.toString()), err.toString());
        assertTrue(out.toString().contains("mnist: " + home.resolve("mnist-full")), out.toString());
        assertTrue(out.toString().contains("ok  f.bin"), out.toString());

        Files.writeString(home.resolve("mnist-full/f.bin"), "tampered");
        out.reset();
        assertEquals(2, run(out, err, "data", "list", "--data-dir", home.toString()), "a damaged data set is bad input: exit 2");
        assertTrue(out.toString().contains("corrupt  f.bin  checksum mismatch"), out.toString());
        assertTrue(out.toString().contains("quarry data fetch mnist fetches it again"), out.toString());

        assertEquals(2, run(out, err, "data", "fetch", "imagenet"));
        assertTrue(err.toString().contains("usage: quarry data fetch mnist"), err.toString());
    }

    /**
     * The shipped sample needs no datasets/ folder: a fresh JVM whose working directory is an empty temporary folder,
     * with no $QUARRY_DATA and an empty cache, trains on it. (The jar and bin/quarry are the same code with the same
     * resources; they are checked by hand, see the commit message.)
     */
    @Test
    void trainOnTheSampleWorksFromAnEmptyWorkingDirectory() throws Exception {
        Path wd = Files.createDirectories(tmp.resolve("wd"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + Path.of(cache).toAbsolutePath());
        cmd.addAll(List.of("dev.quarry.cli.Main", "train", "--dataset", "mnist-sample", "--epochs", "1", "--train-size", "64",
                "--test-samples", "0", "--device", "cpu", "--quiet", "--out", "run"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(wd.toFile()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.remove("QUARRY_DATA");
        env.put("XDG_CACHE_HOME", tmp.resolve("cache").toString());
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), log);
        assertEquals(0, p.exitValue(), log);
        assertTrue(Files.isRegularFile(wd.resolve("run/metrics.json")), log);
        assertFalse(Files.exists(wd.resolve("datasets")));
    }
}
