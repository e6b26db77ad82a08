package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataHomeTest {
    @TempDir
    Path tmp;

    /** A small IDX label file (n labels 0..9), gzipped. */
    static byte[] fakeIdxGz(int n, int salt) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(b)) {
            gz.write(new byte[] {0, 0, 8, 1, (byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
            for (int i = 0; i < n; i++) gz.write((i + salt) % 10);
        }
        return b.toByteArray();
    }

    static String md5Raw(byte[] gz) throws IOException {
        return Checksum.md5Uncompressed("x").of(new java.io.ByteArrayInputStream(gz));
    }

    /** A catalog whose "mnist" is one small file checked by the md5 of its uncompressed content. */
    static DataCatalog fakeCatalog(byte[] file, List<String> baseUrls, DataCatalog.Archive archive) throws IOException {
        return new DataCatalog(List.of(new DataCatalog.Entry("mnist", "mnist-full",
                List.of(new DataCatalog.FileSpec("train-labels-idx1-ubyte.gz", Checksum.md5Uncompressed(md5Raw(file)))), baseUrls, archive, null)));
    }

    private Path checkout() throws IOException {
        Path repo = Files.createDirectories(tmp.resolve("repo"));
        Files.writeString(repo.resolve("pom.xml"), "<project/>");
        Files.createDirectories(repo.resolve("datasets"));
        Files.writeString(repo.resolve("datasets/fetch.sh"), "#!/bin/sh\n");
        return repo;
    }

    private static void put(Path home, byte[] file) throws IOException {
        Path d = Files.createDirectories(home.resolve("mnist-full"));
        Files.write(d.resolve("train-labels-idx1-ubyte.gz"), file);
    }

    @Test
    void homesAreSearchedInTheDocumentedOrder() throws IOException {
        byte[] f = fakeIdxGz(50, 0);
        DataCatalog cat = fakeCatalog(f, List.of(), null);
        Path repo = checkout(), qd = tmp.resolve("qd"), xdg = tmp.resolve("xdg"), wd = Files.createDirectories(tmp.resolve("wd"));
        Map<String, String> env = new HashMap<>(Map.of("QUARRY_DATA", qd.toString(), "XDG_CACHE_HOME", xdg.toString()));
        Path cache = xdg.resolve("quarry/datasets");
        // the checkout is found from the code's location (repo/target/classes), not from the working directory
        DataHome h = DataHome.of(null, env, tmp.resolve("home").toString(), repo.resolve("target/classes"), wd, cat);
        assertEquals(List.of(qd.resolve("mnist-full"), cache.resolve("mnist-full"), repo.resolve("datasets/mnist-full")), h.candidates(cat.get("mnist")));
        assertEquals(qd, h.fetchHome(), "fetch writes to $QUARRY_DATA when it is set");

        IOException missing = assertThrows(IOException.class, () -> h.locate("mnist"));
        String m = missing.getMessage();
        assertFalse(m.contains("\n"), m);
        int a = m.indexOf(qd.resolve("mnist-full").toString()), b = m.indexOf(cache.resolve("mnist-full").toString()),
                c = m.indexOf(repo.resolve("datasets/mnist-full").toString());
        assertTrue(a >= 0 && a < b && b < c, m);
        assertTrue(m.endsWith("fix: quarry data fetch mnist"), m);

        put(repo.resolve("datasets"), f);
        assertEquals(repo.resolve("datasets/mnist-full"), h.locate("mnist"));
        assertEquals(repo.resolve("datasets/mnist-full"), h.locate("repeated-mnist"));
        put(cache, f);
        assertEquals(cache.resolve("mnist-full"), h.locate("mnist"));
        put(qd, f);
        assertEquals(qd.resolve("mnist-full"), h.locate("mnist"));

        // --data-dir replaces the homes: DIR/<folder>, else DIR itself
        Path own = Files.createDirectories(tmp.resolve("own"));
        DataHome e = DataHome.of(own, env, null, repo, wd, cat);
        IOException ex = assertThrows(IOException.class, () -> e.locate("mnist"));
        assertTrue(ex.getMessage().contains("--data-dir " + own.resolve("mnist-full")) && ex.getMessage().contains("(2) --data-dir " + own + ";"), ex.getMessage());
        assertFalse(ex.getMessage().contains(qd.toString()), ex.getMessage());
        assertTrue(ex.getMessage().endsWith("quarry data fetch mnist --data-dir " + own), ex.getMessage());
        Files.write(own.resolve("train-labels-idx1-ubyte.gz"), f);
        assertEquals(own, e.locate("mnist"));
        assertEquals(own, e.fetchHome());
    }

    @Test
    void unsetHomesAreSaidToBeUnsetAndTheCacheDefaultsToDotCache() throws IOException {
        DataCatalog cat = fakeCatalog(fakeIdxGz(5, 0), List.of(), null);
        DataHome h = DataHome.of(null, Map.of(), tmp.toString(), null, tmp.resolve("wd"), cat);
        assertEquals(tmp.resolve(".cache/quarry/datasets"), h.fetchHome());
        String m = assertThrows(IOException.class, () -> h.locate("mnist")).getMessage();
        assertTrue(m.contains("(1) $QUARRY_DATA (not set), (2) user cache " + tmp.resolve(".cache/quarry/datasets/mnist-full")), m);
        assertTrue(m.contains("(3) checkout datasets/ (not set)"), m);
        // a relative XDG_CACHE_HOME is ignored, as the XDG spec says
        assertEquals(tmp.resolve(".cache/quarry/datasets"), DataHome.of(null, Map.of("XDG_CACHE_HOME", "rel"), tmp.toString(), null, null, cat).fetchHome());
    }

    @Test
    void aCorruptFileIsRefusedInOneLineNamingTheFix() throws IOException {
        byte[] f = fakeIdxGz(50, 0);
        DataCatalog cat = fakeCatalog(f, List.of(), null);
        Path qd = tmp.resolve("qd");
        put(qd, fakeIdxGz(50, 1)); // same size and shape, other content
        DataHome h = DataHome.of(null, Map.of("QUARRY_DATA", qd.toString()), null, null, null, cat);
        String m = assertThrows(IOException.class, () -> h.locate("mnist")).getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.startsWith(qd.resolve("mnist-full/train-labels-idx1-ubyte.gz") + ": checksum mismatch (md5 of the uncompressed data "), m);
        assertTrue(m.endsWith("fix: quarry data fetch mnist"), m);
        assertEquals("corrupt", DataHome.check(cat.get("mnist"), qd.resolve("mnist-full")).get(0).state());
    }

    @Test
    void theSampleIsReadFromTheJarWhateverTheWorkingDirectory() throws IOException {
        Path wd = Files.createDirectories(tmp.resolve("elsewhere"));
        assertFalse(Files.exists(wd.resolve("datasets")));
        // no homes at all, no checkout: the sample still resolves, to the copy inside the build
        DataHome h = DataHome.of(null, Map.of(), null, null, wd, DataCatalog.defaults());
        assertTrue(Mnist.hasShippedSample(), "target/classes lacks dev/quarry/data/mnist-sample (the pom's resources)");
        assertNull(Datasets.locate("mnist-sample", null, h));
        ImageSet s = Mnist.shippedSample();
        assertEquals(10_000, s.n());
        int[] counts = new int[10];
        for (int y : s.labels()) counts[y]++;
        assertArrayEquals(new int[] {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, counts);
        // the same pixels as the repository's copy
        ImageSet repo = Mnist.shippedTestSet(Path.of("datasets"));
        assertArrayEquals(repo.images(), s.images());
        Datasets.Split split = Datasets.load("mnist-sample", null, 3, 1);
        assertEquals(8_000, split.trainIdx().length);
        assertEquals(Datasets.SAMPLE_TEST, split.testIdx().length);
    }

    @Test
    void theSampleChecksumsAreThoseOfTheRepositoryFiles() throws IOException {
        for (var e : Mnist.SAMPLE_SHA256.entrySet())
            assertEquals(e.getValue(), Checksum.sha256("0").of(Path.of("datasets/mnist").resolve(e.getKey())), e.getKey());
    }

    @Test
    void anExplicitSampleFolderWithoutTheFilesSaysWhereItLooked() {
        Path nowhere = tmp.resolve("nowhere");
        IOException e = assertThrows(IOException.class, () -> Datasets.load("mnist-sample", nowhere, 0, 1));
        assertTrue(e.getMessage().contains("--data-dir " + nowhere.resolve("mnist")) && e.getMessage().contains("ships inside quarry.jar"), e.getMessage());
    }
}
