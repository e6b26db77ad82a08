package dev.quarry.cli;

import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;

/** Option parsing shared by the subcommands: every malformed value becomes a one-line {@link Main.UsageException}. */
final class Args {
    private Args() {}

    static CommandLine parse(Options options, String[] args) {
        try {
            return new DefaultParser().parse(options, args);
        } catch (ParseException e) {
            throw new Main.UsageException(e);
        }
    }

    static int intOption(CommandLine cl, String name, int fallback) {
        String v = cl.getOptionValue(name);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be an integer, got '" + v + "'");
        }
    }

    static long longOption(CommandLine cl, String name, long fallback) {
        String v = cl.getOptionValue(name);
        if (v == null) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be an integer, got '" + v + "'");
        }
    }

    static double doubleOption(CommandLine cl, String name, double fallback) {
        String v = cl.getOptionValue(name);
        if (v == null) return fallback;
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be a number, got '" + v + "'");
        }
    }

    static long megabytes(CommandLine cl, String name, long fallback) {
        long mb = longOption(cl, name, fallback);
        if (mb <= 0 || mb > (1L << 40)) throw new Main.UsageException("--" + name + " must be between 1 and 2^40, got " + mb);
        return mb << 20;
    }
}
