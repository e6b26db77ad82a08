package dev.quarry.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * {@code quarry data fetch}: datasets/fetch.sh in Java. Every file is downloaded (java.net.http; file: URLs are
 * copied) to a temporary file next to its destination, checked against its checksum and only then renamed into
 * place, so a set's folder never holds a partial or unverified file. A checksum mismatch deletes the download and
 * fails; an unreachable source moves on to the set's fallback archive, if it has one.
 */
public final class Fetcher {
    private final HttpClient http;
    private final PrintStream log;

    public Fetcher(PrintStream log) {
        this.log = log;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(20)).build();
    }

    /** A checksum mismatch: the source is wrong or tampered with, so no fallback is tried. */
    public static final class ChecksumException extends IOException {
        ChecksumException(String message) {
            super(message);
        }
    }

    /**
     * Makes {@code home}/&lt;folder&gt; hold every file of {@code e}, verified. Files already there and verified are
     * kept; missing or corrupt ones are (re)fetched. Returns the folder.
     */
    public Path fetch(DataCatalog.Entry e, Path home) throws IOException {
        Path dir = home.resolve(e.folder());
        Files.createDirectories(dir);
        List<DataCatalog.FileSpec> todo = new ArrayList<>();
        for (DataHome.FileStatus s : DataHome.check(e, dir)) {
            if (s.state().equals("ok")) continue;
            if (s.state().equals("unverified") && specOf(e, s.name()).checksum() != null) continue; // a raw copy of a .gz we cannot check
            if (s.state().equals("corrupt")) log.println(e.name() + ": " + s.path() + ": " + s.detail() + ", fetching it again");
            todo.add(specOf(e, s.name()));
        }
        if (todo.isEmpty()) {
            log.println(e.name() + ": " + dir + " already holds every file, verified");
            return dir;
        }
        IOException primaryFailure = null;
        if (!e.baseUrls().isEmpty()) {
            try {
                for (DataCatalog.FileSpec f : new ArrayList<>(todo)) {
                    download(e, f, dir);
                    todo.remove(f);
                }
            } catch (ChecksumException ex) {
                throw ex;
            } catch (IOException ex) {
                primaryFailure = ex;
                if (e.archive() == null) throw new IOException(e.name() + ": " + ex.getMessage() + (e.note() == null ? "" : "; " + e.note()));
                log.println(e.name() + ": " + ex.getMessage() + "; using " + e.archive().url());
            }
        }
        if (!todo.isEmpty()) {
            if (e.archive() == null) throw new IOException(e.name() + ": no source for " + todo.get(0).name());
            try {
                fromArchive(e, todo, dir);
            } catch (ChecksumException ex) {
                throw ex;
            } catch (IOException ex) {
                String why = primaryFailure == null ? "" : primaryFailure.getMessage() + "; then ";
                throw new IOException(e.name() + ": " + why + ex.getMessage() + (e.note() == null ? "" : "; " + e.note()));
            }
        }
        log.println(e.name() + ": " + dir);
        return dir;
    }

    private static DataCatalog.FileSpec specOf(DataCatalog.Entry e, String name) {
        return e.files().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }

    /** One file from the first base URL that serves it. */
    private void download(DataCatalog.Entry e, DataCatalog.FileSpec f, Path dir) throws IOException {
        IOException last = null;
        for (String base : e.baseUrls()) {
            Path tmp = Files.createTempFile(dir, "." + f.name() + ".", ".part");
            try {
                get(base + f.name(), tmp);
            } catch (IOException ex) {
                Files.deleteIfExists(tmp);
                last = ex;
                continue;
            }
            install(tmp, f, dir, base + f.name());
            return;
        }
        throw last;
    }

    /** Checks {@code tmp} and renames it to dir/name, or deletes it and throws a ChecksumException. */
    private void install(Path tmp, DataCatalog.FileSpec f, Path dir, String source) throws IOException {
        if (f.checksum() != null) {
            String got = f.checksum().of(tmp);
            if (!f.checksum().matches(got)) {
                Files.deleteIfExists(tmp);
                throw new ChecksumException(source + ": checksum mismatch (" + f.checksum().describe() + " " + got + ", want "
                        + f.checksum().expected() + "); download deleted, nothing installed");
            }
        }
        move(tmp, dir.resolve(f.name()));
        // a raw copy left next to the new .gz would be read instead of it: drop it
        if (f.name().endsWith(".gz")) Files.deleteIfExists(dir.resolve(f.name().substring(0, f.name().length() - 3)));
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException ex) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The archive: downloaded, checked, and the wanted members installed one by one (each checked, then renamed). */
    private void fromArchive(DataCatalog.Entry e, List<DataCatalog.FileSpec> todo, Path dir) throws IOException {
        DataCatalog.Archive a = e.archive();
        Path stage = Files.createTempDirectory(dir, ".fetch-");
        try {
            Path archive = stage.resolve("archive");
            get(a.url(), archive);
            if (a.checksum() != null) {
                String got = a.checksum().of(archive);
                if (!a.checksum().matches(got))
                    throw new ChecksumException(a.url() + ": checksum mismatch (" + a.checksum().describe() + " " + got + ", want "
                            + a.checksum().expected() + "); download deleted, nothing installed");
            }
            List<String> wanted = new ArrayList<>();
            for (DataCatalog.FileSpec f : todo) wanted.add(a.prefix() + (a.gzip() ? f.name().replaceFirst("\\.gz$", "") : f.name()));
            Path members = Files.createDirectory(stage.resolve("members"));
            Tar.extract(archive, wanted, members);
            Files.delete(archive);
            StringBuilder manifest = new StringBuilder();
            for (int i = 0; i < todo.size(); i++) {
                DataCatalog.FileSpec f = todo.get(i);
                Path m = members.resolve(Integer.toString(i));
                if (!Files.isRegularFile(m)) throw new IOException(a.url() + ": no member " + wanted.get(i));
                Path tmp = stage.resolve(f.name());
                if (a.gzip()) {
                    try (InputStream in = Files.newInputStream(m); OutputStream out = new GZIPOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                        in.transferTo(out);
                    }
                } else {
                    Files.move(m, tmp);
                }
                if (f.checksum() == null) manifest.append(Checksum.sha256("").of(tmp)).append("  ").append(f.name()).append('\n');
                install(tmp, f, dir, a.url() + "!" + wanted.get(i));
            }
            if (manifest.length() > 0) mergeManifest(dir, manifest.toString());
        } finally {
            deleteTree(stage);
        }
    }

    private static void mergeManifest(Path dir, String add) throws IOException {
        var m = DataHome.readManifest(dir);
        for (String line : add.split("\n")) {
            String[] f = line.split("\\s+", 2);
            m.put(f[1], f[0]);
        }
        StringBuilder sb = new StringBuilder();
        m.entrySet().stream().sorted(java.util.Map.Entry.comparingByKey()).forEach(en -> sb.append(en.getValue()).append("  ").append(en.getKey()).append('\n'));
        Path tmp = Files.createTempFile(dir, DataCatalog.MANIFEST, ".part");
        Files.writeString(tmp, sb, StandardCharsets.UTF_8);
        move(tmp, dir.resolve(DataCatalog.MANIFEST));
    }

    /** {@code url} into {@code to}: file: URLs are copied, anything else goes through java.net.http. */
    void get(String url, Path to) throws IOException {
        URI uri = URI.create(url);
        if ("file".equals(uri.getScheme())) {
            try {
                Files.copy(Path.of(uri), to, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException ex) {
                throw new IOException(url + ": " + ex.getMessage());
            }
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(30)).GET().build();
        HttpResponse<Path> res;
        try {
            res = http.send(req, HttpResponse.BodyHandlers.ofFile(to));
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IOException(url + ": interrupted");
        } catch (IOException ex) {
            throw new IOException(url + ": unreachable (" + ex + ")");
        }
        if (res.statusCode() != 200) throw new IOException(url + ": HTTP " + res.statusCode());
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** Just enough of ustar/GNU tar (gzipped or not) to pull named regular files out of an archive. */
    static final class Tar {
        private Tar() {}

        /** Writes the member named wanted[i] to out/i; members not wanted are skipped. */
        static void extract(Path archive, List<String> wanted, Path out) throws IOException {
            try (InputStream raw = new BufferedInputStream(Files.newInputStream(archive), 1 << 16)) {
                raw.mark(2);
                int b0 = raw.read(), b1 = raw.read();
                raw.reset();
                InputStream in = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
                byte[] h = new byte[512];
                String longName = null;
                while (true) {
                    if (in.readNBytes(h, 0, 512) < 512) break;
                    boolean zero = true;
                    for (byte b : h) if (b != 0) { zero = false; break; }
                    if (zero) break;
                    String name = str(h, 0, 100);
                    String prefix = str(h, 345, 155);
                    if (!prefix.isEmpty() && h[257] == 'u') name = prefix + "/" + name;
                    if (longName != null) {
                        name = longName;
                        longName = null;
                    }
                    long size = Long.parseLong(str(h, 124, 12).trim().isEmpty() ? "0" : str(h, 124, 12).trim(), 8);
                    char type = (char) h[156];
                    long padded = (size + 511) / 512 * 512;
                    if (type == 'L') {
                        byte[] n = in.readNBytes((int) padded);
                        longName = new String(n, 0, (int) size, StandardCharsets.UTF_8).replace("\0", "");
                        continue;
                    }
                    if (name.startsWith("./")) name = name.substring(2);
                    int idx = (type == '0' || type == 0) ? wanted.indexOf(name) : -1;
                    if (idx >= 0) {
                        try (OutputStream o = Files.newOutputStream(out.resolve(Integer.toString(idx)))) {
                            copy(in, o, size);
                        }
                        skip(in, padded - size);
                    } else {
                        skip(in, padded);
                    }
                }
            } catch (NumberFormatException e) {
                throw new IOException(archive + ": malformed tar header");
            }
        }

        private static String str(byte[] h, int off, int len) {
            int end = off;
            while (end < off + len && h[end] != 0) end++;
            return new String(h, off, end - off, StandardCharsets.UTF_8);
        }

        private static void copy(InputStream in, OutputStream out, long n) throws IOException {
            byte[] buf = new byte[1 << 16];
            while (n > 0) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, n));
                if (r < 0) throw new IOException("truncated tar archive");
                out.write(buf, 0, r);
                n -= r;
            }
        }

        private static void skip(InputStream in, long n) throws IOException {
            while (n > 0) {
                long s = in.skip(n);
                if (s <= 0) {
                    if (in.read() < 0) throw new IOException("truncated tar archive");
                    s = 1;
                }
                n -= s;
            }
        }
    }
}
