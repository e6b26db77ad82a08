package dev.quarry.cli;

import dev.quarry.data.DataCatalog;
import dev.quarry.data.DataHome;
import dev.quarry.data.Fetcher;
import dev.quarry.data.Mnist;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code quarry data fetch mnist|fashion-mnist|cifar10 [--data-dir HOME]}: downloads a full data set into the data
 * home (--data-dir, else $QUARRY_DATA, else ${XDG_CACHE_HOME:-~/.cache}/quarry/datasets), each file checked before
 * it is renamed into place. {@code quarry data list [--data-dir HOME]}: every home in the order they are searched,
 * and what each holds, checked against the checksums.
 */
final class DataCommand {
    private DataCommand() {}

    /** The catalog fetch and list use; tests replace it. */
    static DataCatalog catalog = DataCatalog.defaults();

    static final OptionSpec<String> HOME = Opts.DATA_DIR.describedAs("the data home to fetch into or list")
            .withDefault("fetch writes to $QUARRY_DATA, else ${XDG_CACHE_HOME:-~/.cache}/quarry/datasets; list shows every home in the order "
                    + "they are searched: $QUARRY_DATA, the user cache, the checkout's datasets/", p -> null);

    static final CommandSpec SPEC = new CommandSpec("data", "fetch " + DataCatalog.defaults().names() + " [--data-dir HOME] | list [--data-dir HOME]",
            "the data home: fetch a full data set into it (checksum-checked), or list the homes and what they hold",
            List.of(HOME), List.of());

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed p = Cli.parse(SPEC, args, err);
        List<String> rest = p.args();
        String usage = "usage: quarry data fetch " + catalog.names() + " [--data-dir HOME] | quarry data list [--data-dir HOME]";
        if (rest.isEmpty()) throw new Main.UsageException(usage);
        DataHome fromEnv = DataHome.fromEnvironment(p.get(HOME));
        String userHome = System.getenv("HOME") != null && !System.getenv("HOME").isBlank() ? System.getenv("HOME") : System.getProperty("user.home");
        DataHome home = DataHome.of(fromEnv.explicit(), System.getenv(), userHome, checkoutHint(fromEnv),
                Path.of(System.getProperty("user.dir")), catalog);
        switch (rest.get(0)) {
            case "fetch" -> {
                if (rest.size() != 2 || catalog.get(rest.get(1)) == null) throw new Main.UsageException(usage);
                try {
                    new Fetcher(out).fetch(catalog.get(rest.get(1)), home.fetchHome());
                } catch (IOException e) {
                    err.println("quarry data fetch: " + e.getMessage());
                    return Main.EXIT_INTERNAL;
                }
                return 0;
            }
            case "list" -> {
                if (rest.size() != 1) throw new Main.UsageException(usage);
                return list(home, out);
            }
            default -> throw new Main.UsageException(usage);
        }
    }

    /** The jar's (or classes') checkout, as DataHome.fromEnvironment found it. */
    private static Path checkoutHint(DataHome fromEnv) {
        for (DataHome.Place p : fromEnv.homes()) if (p.label().equals("checkout") && p.dir() != null) return p.dir().getParent();
        return null;
    }

    static int list(DataHome home, PrintStream out) {
        boolean bad = false;
        out.println("mnist-sample: " + (Mnist.hasShippedSample() ? "inside quarry.jar (SHA-256 checked on every read)" : "not in this build"));
        if (home.explicit() != null) {
            out.println("--data-dir " + home.explicit());
        } else {
            out.println("data homes, searched in this order (fetch writes to the first of the first two that is set):");
            int i = 1;
            for (DataHome.Place p : home.homes()) out.println("  " + i++ + ". " + p);
        }
        for (DataCatalog.Entry e : home.catalog().entries()) {
            Path dir = home.find(e);
            if (dir == null) {
                out.println(e.name() + ": not found (quarry data fetch " + e.name() + (home.explicit() != null ? " --data-dir " + home.explicit() : "") + ")");
                continue;
            }
            List<DataHome.FileStatus> st = DataHome.check(e, dir);
            boolean ok = st.stream().allMatch(s -> s.state().equals("ok") || s.state().equals("unverified"));
            bad |= !ok;
            out.println(e.name() + ": " + dir + (ok ? "" : "  (damaged: quarry data fetch " + e.name() + " fetches it again)"));
            for (DataHome.FileStatus s : st) out.println("  " + s.state() + "  " + s.name() + (s.state().equals("ok") ? "" : "  " + s.detail()));
        }
        return bad ? Main.EXIT_USAGE : 0; // a damaged input, as everywhere else (BadInputException): exit 2
    }
}
