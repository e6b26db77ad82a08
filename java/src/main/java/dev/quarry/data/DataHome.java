package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where data sets live. Without --data-dir, a set is looked for under these homes, in this order, and read from the
 * first that holds it:
 * <ol>
 *   <li>{@code $QUARRY_DATA}, when set;</li>
 *   <li>the per-user cache, {@code ${XDG_CACHE_HOME:-~/.cache}/quarry/datasets};</li>
 *   <li>the {@code datasets/} folder of a Quarry checkout: the one holding the running jar or classes (target/), or
 *       the one the working directory is in.</li>
 * </ol>
 * A set lies in its own folder under a home (mnist-full, fashion-mnist, cifar-10-batches-bin). {@code --data-dir
 * DIR} replaces the homes: DIR/&lt;folder&gt; if it holds the set, else DIR itself. {@code quarry data fetch} writes to
 * --data-dir, else $QUARRY_DATA, else the user cache. The shipped MNIST sample is read from inside the jar unless
 * --data-dir is given.
 */
public final class DataHome {
    /** A home: what it is ("$QUARRY_DATA", "user cache", "checkout") and its folder, null where it is not set. */
    public record Place(String label, Path dir) {
        @Override
        public String toString() {
            return dir == null ? label + " (not set)" : label + " " + dir;
        }
    }

    private final Path explicit;
    private final List<Place> homes;
    private final DataCatalog catalog;

    DataHome(Path explicit, List<Place> homes, DataCatalog catalog) {
        this.explicit = explicit;
        this.homes = List.copyOf(homes);
        this.catalog = catalog;
    }

    /** The homes of this process: --data-dir (null: none), its environment, user.home, where its code lies, user.dir. */
    public static DataHome fromEnvironment(String dataDir) {
        String home = System.getenv("HOME"); // as bin/quarry and XDG have it; user.home comes from the password file
        return of(dataDir == null ? null : Path.of(dataDir), System.getenv(), home != null && !home.isBlank() ? home : System.getProperty("user.home"), codeLocation(),
                Path.of(System.getProperty("user.dir")), DataCatalog.defaults());
    }

    /** As {@link #fromEnvironment}, everything given (tests). {@code codeLocation} and {@code workDir} may be null. */
    public static DataHome of(Path explicit, Map<String, String> env, String userHome, Path codeLocation, Path workDir, DataCatalog catalog) {
        List<Place> homes = new ArrayList<>();
        String qd = env.get("QUARRY_DATA");
        homes.add(new Place("$QUARRY_DATA", qd == null || qd.isBlank() ? null : Path.of(qd).toAbsolutePath().normalize()));
        homes.add(new Place("user cache", userCache(env, userHome)));
        Set<Path> checkouts = new LinkedHashSet<>();
        for (Path start : new Path[] {codeLocation, workDir}) {
            Path c = checkoutOf(start);
            if (c != null) checkouts.add(c);
        }
        if (checkouts.isEmpty()) homes.add(new Place("checkout datasets/", null));
        for (Path c : checkouts) homes.add(new Place("checkout", c.resolve("datasets")));
        return new DataHome(explicit == null ? null : explicit.toAbsolutePath().normalize(), homes, catalog);
    }

    static Path userCache(Map<String, String> env, String userHome) {
        String xdg = env.get("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute() ? Path.of(xdg)
                : userHome == null || userHome.isBlank() ? null : Path.of(userHome, ".cache");
        return base == null ? null : base.resolve("quarry").resolve("datasets").toAbsolutePath().normalize();
    }

    /** The Quarry checkout {@code start} lies in (a folder with pom.xml and datasets/fetch.sh), or null. */
    static Path checkoutOf(Path start) {
        if (start == null) return null;
        Path p = start.toAbsolutePath().normalize();
        for (int i = 0; p != null && i < 6; i++, p = p.getParent())
            if (Files.isRegularFile(p.resolve("pom.xml")) && Files.isRegularFile(p.resolve("datasets").resolve("fetch.sh"))) return p;
        return null;
    }

    private static Path codeLocation() {
        try {
            var src = DataHome.class.getProtectionDomain().getCodeSource();
            return src == null ? null : Path.of(src.getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    public DataCatalog catalog() {
        return catalog;
    }

    public Path explicit() {
        return explicit;
    }

    /** The homes searched without --data-dir, in order (unset ones included, with a null folder). */
    public List<Place> homes() {
        return homes;
    }

    /** Where fetch writes: --data-dir, else $QUARRY_DATA, else the user cache. */
    public Path fetchHome() throws IOException {
        if (explicit != null) return explicit;
        for (Place p : homes.subList(0, 2)) if (p.dir() != null) return p.dir();
        throw new IOException("no data home: $QUARRY_DATA, $XDG_CACHE_HOME and the home directory are all unset; give --data-dir DIR");
    }

    /** The catalog entry behind a --dataset value, or null (npy). */
    public DataCatalog.Entry entryFor(String dataset) {
        if (dataset.equals("mnist-sample")) return DataCatalog.MNIST_SAMPLE;
        String f = DataCatalog.fetchName(dataset);
        return f == null ? null : catalog.get(f);
    }

    /** The folders that may hold {@code e}, in the order they are tried. */
    public List<Path> candidates(DataCatalog.Entry e) {
        List<Path> c = new ArrayList<>();
        if (explicit != null) {
            c.add(explicit.resolve(e.folder()));
            c.add(explicit);
        } else {
            for (Place p : homes) if (p.dir() != null) c.add(p.dir().resolve(e.folder()));
        }
        return c;
    }

    /** The first candidate folder that holds {@code e}'s first file, or null. */
    public Path find(DataCatalog.Entry e) {
        for (Path dir : candidates(e)) if (file(dir, e.files().get(0).name()) != null) return dir;
        return null;
    }

    /**
     * The folder {@code dataset} is read from, its files checked against their checksums; otherwise an IOException
     * of one line that lists every place looked in, in order, and the command that fixes it.
     */
    public Path locate(String dataset) throws IOException {
        DataCatalog.Entry e = entryFor(dataset);
        if (e == null) throw new IllegalArgumentException("no catalog entry for '" + dataset + "'");
        Path dir = find(e);
        if (dir == null) throw new IOException(dataset + ": not found (no " + e.files().get(0).name() + "); looked in " + lookedIn(e) + "; fix: " + fixFor(e));
        verify(e, dir, "fix: " + fixFor(e));
        return dir;
    }

    /** The places tried for {@code e}, in order, as one line (unset homes say so). */
    public String lookedIn(DataCatalog.Entry e) {
        List<String> parts = new ArrayList<>();
        int i = 1;
        if (explicit != null) {
            for (Path p : candidates(e)) parts.add("(" + i++ + ") --data-dir " + p);
        } else {
            for (Place p : homes) parts.add("(" + i++ + ") " + (p.dir() == null ? p.toString() : p.label() + " " + p.dir().resolve(e.folder())));
        }
        return String.join(", ", parts);
    }

    /** The one command that puts {@code e} where it is looked for. */
    public String fixFor(DataCatalog.Entry e) {
        if (e == DataCatalog.MNIST_SAMPLE)
            return "the sample ships inside quarry.jar: run without --data-dir, or give a folder holding " + e.files().get(0).name();
        return "quarry data fetch " + e.name() + (explicit != null ? " --data-dir " + explicit : "");
    }

    /** The state of one file of a set: ok (checksum matches), unverified (no checksum known), missing or corrupt. */
    public record FileStatus(String name, Path path, String state, String detail) {}

    /** Every file of {@code e} in {@code dir}, checked. */
    public static List<FileStatus> check(DataCatalog.Entry e, Path dir) {
        Map<String, String> manifest = readManifest(dir);
        List<FileStatus> out = new ArrayList<>();
        for (DataCatalog.FileSpec f : e.files()) {
            Path p = file(dir, f.name());
            if (p == null) {
                out.add(new FileStatus(f.name(), dir.resolve(f.name()), "missing", "no such file"));
                continue;
            }
            Checksum c = f.checksum();
            if (c != null && !p.getFileName().toString().equals(f.name()) && !c.uncompressed()) c = null; // raw copy of a .gz-checked file
            if (c == null && manifest.containsKey(f.name())) c = Checksum.sha256(manifest.get(f.name()));
            if (c == null) {
                out.add(new FileStatus(f.name(), p, "unverified", "no checksum known (no " + DataCatalog.MANIFEST + " entry)"));
                continue;
            }
            try {
                String got = c.of(p);
                out.add(c.matches(got) ? new FileStatus(f.name(), p, "ok", c.describe())
                        : new FileStatus(f.name(), p, "corrupt", "checksum mismatch (" + c.describe() + " " + got + ", want " + c.expected() + ")"));
            } catch (IOException ex) {
                out.add(new FileStatus(f.name(), p, "corrupt", "unreadable (" + ex.getMessage() + ")"));
            }
        }
        return out;
    }

    /** Throws a {@link BadInputException}, in one line ending with {@code fix}, at the first file of {@code e} in {@code dir} that is missing or corrupt. */
    public static void verify(DataCatalog.Entry e, Path dir, String fix) throws IOException {
        for (FileStatus s : check(e, dir))
            if (s.state().equals("missing") || s.state().equals("corrupt")) throw new BadInputException(s.path() + ": " + s.detail() + "; " + fix);
    }

    /** {@code name} in {@code dir}, or its uncompressed form (name less ".gz"), whichever exists; null if neither. */
    static Path file(Path dir, String name) {
        Path p = dir.resolve(name);
        if (Files.isRegularFile(p)) return p;
        if (name.endsWith(".gz")) {
            Path raw = dir.resolve(name.substring(0, name.length() - 3));
            if (Files.isRegularFile(raw)) return raw;
        }
        return null;
    }

    static Map<String, String> readManifest(Path dir) {
        Map<String, String> m = new HashMap<>();
        Path p = dir.resolve(DataCatalog.MANIFEST);
        if (!Files.isRegularFile(p)) return m;
        try {
            for (String line : Files.readAllLines(p)) {
                String[] f = line.strip().split("\\s+", 2);
                if (f.length == 2) m.put(f[1], f[0]);
            }
        } catch (IOException ignored) {
            // an unreadable manifest verifies nothing; the files show as unverified
        }
        return m;
    }
}
