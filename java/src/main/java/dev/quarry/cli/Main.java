package dev.quarry.cli;

import dev.quarry.engine.QuarryException;
import dev.quarry.util.BadInputException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.ParseException;

/**
 * {@code quarry <command> [options]}: dispatches to one subcommand; user errors print one line and exit 2.
 * {@code quarry help [COMMAND]}, {@code quarry COMMAND --help} and {@code quarry COMMAND -h} print the options of a
 * command with their defaults, generated from the definitions its parser uses ({@link CommandSpec}), and exit 0.
 */
public final class Main {
    static final int EXIT_USAGE = 2;
    /** A failure that is not the user's (device error, out of memory, a bug): one line, exit 1. */
    static final int EXIT_INTERNAL = 1;

    /** A command: the specs of what it accepts (several for bench, one per workload), and how it runs. */
    record Entry(String summary, List<CommandSpec> specs, Command command) {
        Entry(CommandSpec spec, Command command) {
            this(spec.summary(), List.of(spec), command);
        }
    }

    static final Map<String, Entry> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("info", new Entry(InfoCommand.SPEC, InfoCommand::run));
        COMMANDS.put("train", new Entry(TrainCommand.SPEC, TrainCommand::run));
        COMMANDS.put("acquire", new Entry(AcquireCommand.SPEC, AcquireCommand::run));
        COMMANDS.put("bench", new Entry(BenchCommand.SUMMARY, BenchCommand.SPECS, BenchCommand::run));
        COMMANDS.put("al", new Entry(AlCommand.SPEC, AlCommand::run));
        COMMANDS.put("sweep", new Entry(SweepCommand.SPEC, SweepCommand::run));
        COMMANDS.put("demo", new Entry(DemoCommand.SPEC, DemoCommand::run));
        COMMANDS.put("pretrain", new Entry(PretrainCommand.SPEC, PretrainCommand::run));
        COMMANDS.put("probe", new Entry(ProbeCommand.SPEC, ProbeCommand::run));
        COMMANDS.put("data", new Entry(DataCommand.SPEC, DataCommand::run));
    }

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || isHelp(args[0])) {
            commandList(out);
            return args.length == 0 ? EXIT_USAGE : 0;
        }
        String name = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (name.equals("help")) {
            if (rest.length == 0 || rest[0].equals("help") || isHelp(rest[0])) {
                commandList(out);
                return 0;
            }
            name = rest[0];
            rest = Arrays.copyOfRange(rest, 1, rest.length);
        }
        Entry cmd = COMMANDS.get(name);
        if (cmd == null) {
            err.println("quarry: unknown command '" + name + "' (commands: " + String.join(", ", COMMANDS.keySet()) + ")");
            return EXIT_USAGE;
        }
        if (args[0].equals("help") || Arrays.stream(rest).anyMatch(Main::isHelp)) {
            help(cmd, rest, out);
            return 0;
        }
        try {
            return cmd.command().run(rest, out, err);
        } catch (UsageException e) {
            err.println("quarry " + name + ": " + BadInputException.oneLine(e.getMessage()));
            return EXIT_USAGE;
        } catch (QuarryException e) {
            err.println("quarry " + name + ": " + e.getMessage());
            return e.status() == dev.quarry.engine.QuarryNative.QY_ERR_INVALID || e.status() == dev.quarry.engine.QuarryNative.QY_ERR_NO_DEVICE
                    ? EXIT_USAGE : EXIT_INTERNAL;
        } catch (RuntimeException | OutOfMemoryError e) {
            if (e instanceof java.io.UncheckedIOException u && u.getCause() instanceof BadInputException bad) {
                err.println("quarry " + name + ": " + bad.getMessage()); // a damaged input found deep inside a run
                return EXIT_USAGE;
            }
            err.println("quarry " + name + ": internal error: " + e);
            return EXIT_INTERNAL;
        }
    }

    private static boolean isHelp(String arg) {
        return arg.equals("-h") || arg.equals("--help");
    }

    /** One command's help; for bench, the workload named first in {@code rest}, or all of them. */
    private static void help(Entry cmd, String[] rest, PrintStream out) {
        if (cmd.specs().size() > 1 && rest.length > 0)
            for (CommandSpec s : cmd.specs())
                if (s.name().endsWith(" " + rest[0])) {
                    Cli.help(s, out);
                    return;
                }
        for (int i = 0; i < cmd.specs().size(); i++) {
            if (i > 0) out.println();
            Cli.help(cmd.specs().get(i), out);
        }
    }

    private static void commandList(PrintStream out) {
        out.println("usage: quarry <command> [options]");
        out.println();
        out.println("commands:");
        int width = COMMANDS.keySet().stream().mapToInt(String::length).max().orElse(0);
        COMMANDS.forEach((name, e) -> out.printf("  %-" + width + "s  %s%n", name, e.summary()));
        out.println();
        out.println("'quarry help COMMAND' or 'quarry COMMAND --help' lists the command's options with their defaults.");
    }

    /** A subcommand: arguments after its name, and the streams it reports on. */
    interface Command {
        int run(String[] args, PrintStream out, PrintStream err);
    }

    /** A mistake in the command line or its inputs: reported in one line, exit status 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }

        UsageException(ParseException e) {
            super(e.getMessage());
        }
    }
}
