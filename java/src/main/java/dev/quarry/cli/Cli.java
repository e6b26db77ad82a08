package dev.quarry.cli;

import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.ParseException;
import org.apache.commons.cli.help.HelpFormatter;
import org.apache.commons.cli.help.TextHelpAppendable;

/**
 * What every command does the same way: parsing against its {@link CommandSpec}, the help generated from it, data
 * loading, device selection, atomic output, and the mapping of bad input to one-line usage errors (exit 2).
 */
final class Cli {
    private Cli() {}

    static final int HELP_WIDTH = 100;

    /** Parses {@code args}; a malformed command line is a {@link Main.UsageException}, a deprecated spelling one line on {@code err}. */
    static Parsed parse(CommandSpec spec, String[] args, PrintStream err) {
        try {
            return new Parsed(spec, new DefaultParser().parse(spec.parserOptions(), args), err);
        } catch (ParseException e) {
            throw new Main.UsageException(e);
        }
    }

    /** The help of one command: usage line, summary, every option with its default, the deprecated spellings. */
    static void help(CommandSpec spec, PrintStream out) {
        StringBuilder sb = new StringBuilder();
        TextHelpAppendable text = new TextHelpAppendable(sb);
        text.setMaxWidth(HELP_WIDTH);
        String footer = spec.aliases().isEmpty() ? null
                : "Deprecated spellings, still accepted (one warning line each): " + spec.aliases().stream()
                        .map(a -> a.when() == null ? "--" + a.name() + " = --" + a.target().name()
                                : "--" + a.name() + " " + a.target().argName() + " = --" + a.target().name() + " " + a.target().argName())
                        .collect(Collectors.joining(", "));
        try {
            HelpFormatter.builder().setShowSince(false).setHelpAppendable(text).setComparator((a, b) -> 0).get()
                    .printHelp("quarry " + spec.name() + " " + usage(spec), spec.summary(), spec.helpOptions(), footer, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringBuilder does not throw
        }
        // the formatter pads every cell to the column width: no trailing blanks in a terminal or a diff
        out.println(sb.toString().lines().map(String::stripTrailing).collect(Collectors.joining("\n")).stripTrailing());
    }

    /** The spec's usage, or its required options followed by [options]. */
    static String usage(CommandSpec spec) {
        if (spec.usage() != null) return spec.usage();
        StringBuilder sb = new StringBuilder();
        for (OptionSpec<?> o : spec.options())
            if (o.required()) sb.append("--").append(o.name()).append(' ').append(o.argName()).append(' ');
        return sb.append("[options]").toString();
    }

    /** Reads input the user named: an unreadable file or a value the library refuses is a usage error. */
    static <T> T userInput(IoSupplier<T> s) {
        try {
            return s.get();
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    /** Checks input the user named, as {@link #userInput}. */
    static void userCheck(IoRunnable r) {
        userInput(() -> {
            r.run();
            return null;
        });
    }

    /** The data group's data set (--dataset, --data-dir, --copies, --train-limit), split with {@code seed}. */
    static Datasets.Split loadData(Parsed p, long seed) {
        return userInput(() -> {
            String dataset = p.get(Opts.DATASET);
            return Datasets.load(dataset, Datasets.dir(p.get(Opts.DATA_DIR)), seed, p.get(Opts.COPIES), p.get(Opts.TRAIN_LIMIT));
        });
    }

    /** The --device backend; its choice is reported on {@code err} unless the command was given --quiet. */
    static Device device(Parsed p, PrintStream err) {
        return Device.select(p.get(Opts.DEVICE), quiet(p) ? null : err);
    }

    static boolean quiet(Parsed p) {
        return p.declares(Opts.QUIET) && p.flag(Opts.QUIET);
    }

    /**
     * Stages result files with {@code stager} in {@code w} and commits them all at once; on any failure nothing is
     * left behind and the failure is a one-line "cannot write results to DIR" usage error.
     */
    static void write(AtomicWriter w, Path dir, Stager stager) {
        try {
            stager.stage(w);
            w.commit();
        } catch (Main.UsageException e) {
            w.abort();
            throw e;
        } catch (IOException | RuntimeException e) {
            w.abort();
            throw new Main.UsageException("cannot write results to " + dir + ": " + e.getMessage());
        }
    }

    static void write(Path dir, Stager stager) {
        write(new AtomicWriter(dir), dir, stager);
    }

    interface IoSupplier<T> {
        T get() throws IOException;
    }

    interface IoRunnable {
        void run() throws IOException;
    }

    interface Stager {
        void stage(AtomicWriter w) throws IOException;
    }
}
