package dev.quarry.cli;

import dev.quarry.engine.QuarryException;
import dev.quarry.util.BadInputException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.ParseException;

/** {@code quarry <command> [options]}: dispatches to one subcommand; user errors print one line and exit 2. */
public final class Main {
    static final int EXIT_USAGE = 2;
    /** A failure that is not the user's (device error, out of memory, a bug): one line, exit 1. */
    static final int EXIT_INTERNAL = 1;

    private static final Map<String, Command> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("info", InfoCommand::run);
        COMMANDS.put("train", TrainCommand::run);
        COMMANDS.put("acquire", AcquireCommand::run);
        COMMANDS.put("bench", BenchCommand::run);
        COMMANDS.put("al", AlCommand::run);
        COMMANDS.put("sweep", SweepCommand::run);
        COMMANDS.put("demo", DemoCommand::run);
        COMMANDS.put("pretrain", PretrainCommand::run);
        COMMANDS.put("probe", ProbeCommand::run);
    }

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            out.println("usage: quarry <command> [options]; commands: " + String.join(", ", COMMANDS.keySet()));
            return args.length == 0 ? EXIT_USAGE : 0;
        }
        Command cmd = COMMANDS.get(args[0]);
        if (cmd == null) {
            err.println("quarry: unknown command '" + args[0] + "' (commands: " + String.join(", ", COMMANDS.keySet()) + ")");
            return EXIT_USAGE;
        }
        try {
            return cmd.run(Arrays.copyOfRange(args, 1, args.length), out, err);
        } catch (UsageException e) {
            err.println("quarry " + args[0] + ": " + BadInputException.oneLine(e.getMessage()));
            return EXIT_USAGE;
        } catch (QuarryException e) {
            err.println("quarry " + args[0] + ": " + e.getMessage());
            return e.status() == dev.quarry.engine.QuarryNative.QY_ERR_INVALID || e.status() == dev.quarry.engine.QuarryNative.QY_ERR_NO_DEVICE
                    ? EXIT_USAGE : EXIT_INTERNAL;
        } catch (RuntimeException | OutOfMemoryError e) {
            if (e instanceof java.io.UncheckedIOException u && u.getCause() instanceof BadInputException bad) {
                err.println("quarry " + args[0] + ": " + bad.getMessage()); // a damaged input found deep inside a run
                return EXIT_USAGE;
            }
            err.println("quarry " + args[0] + ": internal error: " + e);
            return EXIT_INTERNAL;
        }
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
