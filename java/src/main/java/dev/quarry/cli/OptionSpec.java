package dev.quarry.cli;

import java.util.function.Function;
import org.apache.commons.cli.Option;

/**
 * One command-line option, defined once: its long name, argument name, help text, default and how its value is
 * read. Commands list the specs they take (the shared groups are in {@link Opts}); the parser and the help text
 * ({@link Cli}) are both generated from those lists, so the help cannot drift from what is parsed.
 *
 * @param argName      the argument's name in the help ("N", "DIR"); null for a flag
 * @param parser       reads the value as typed, reporting a malformed one as a one-line usage error; null for a flag
 * @param defaultHelp  the default as the help shows it ("10", "1024; 500 for mnist-sample"); null: no default
 * @param defaultValue the default as it would be typed, possibly depending on other options; null: no default
 * @param required     the command refuses to run without it
 */
record OptionSpec<T>(String name, String argName, String description, Parser<T> parser, String defaultHelp,
                     Function<Parsed, String> defaultValue, boolean required) {

    /** Reads an option's value; {@code option} is the long name, for the message of a malformed value. */
    interface Parser<T> {
        T parse(String option, String raw);
    }

    static final Parser<String> STRING = (name, v) -> v;

    static final Parser<Integer> INT = (name, v) -> {
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be an integer, got '" + v + "'");
        }
    };

    static final Parser<Long> LONG = (name, v) -> {
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be an integer, got '" + v + "'");
        }
    };

    static final Parser<Double> DOUBLE = (name, v) -> {
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--" + name + " must be a number, got '" + v + "'");
        }
    };

    /** A size in MiB between 1 and 2^40 (the value stays in MiB). */
    static final Parser<Long> MEGABYTES = (name, v) -> {
        long mb = LONG.parse(name, v);
        if (mb <= 0 || mb > (1L << 40)) throw new Main.UsageException("--" + name + " must be between 1 and 2^40, got " + mb);
        return mb;
    };

    /** An option with an argument and a constant default ({@code null}: none). */
    static <T> OptionSpec<T> of(String name, String argName, Parser<T> parser, String defaultValue, String description) {
        return new OptionSpec<>(name, argName, description, parser, defaultValue, defaultValue == null ? null : p -> defaultValue, false);
    }

    /** An option without an argument: off unless given. */
    static OptionSpec<Boolean> flag(String name, String description) {
        return new OptionSpec<>(name, null, description, null, null, null, false);
    }

    boolean isFlag() {
        return parser == null;
    }

    /** The same option with another constant default, for a command whose protocol differs. */
    OptionSpec<T> withDefault(String value) {
        return new OptionSpec<>(name, argName, description, parser, value, p -> value, false);
    }

    /** The same option with a default that depends on other options; {@code help} says how. */
    OptionSpec<T> withDefault(String help, Function<Parsed, String> value) {
        return new OptionSpec<>(name, argName, description, parser, help, value, false);
    }

    OptionSpec<T> asRequired() {
        return new OptionSpec<>(name, argName, description, parser, null, null, true);
    }

    OptionSpec<T> describedAs(String text) {
        return new OptionSpec<>(name, argName, text, parser, defaultHelp, defaultValue, required);
    }

    /** What the help says about the default: "required", "default: off", "default: X" or "no default". */
    String defaultText() {
        if (required) return "required";
        if (isFlag()) return "default: off";
        return defaultHelp == null ? "no default" : "default: " + defaultHelp;
    }

    /** The Commons CLI option; {@code forHelp} marks required ones (the parser checks them itself, aliases included). */
    Option toOption(boolean forHelp) {
        Option.Builder b = Option.builder().longOpt(name).desc(description + " (" + defaultText() + ")");
        if (!isFlag()) b.hasArg().argName(argName);
        if (forHelp && required) b.required();
        return b.get();
    }
}
