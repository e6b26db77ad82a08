package dev.quarry.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;

/**
 * One command line, read against a {@link CommandSpec}: typed values, each option's default taken from the
 * command's own spec (so {@code train}'s 6 epochs, not the shared 30), deprecated spellings resolved to their
 * option with one line on standard error each.
 */
final class Parsed {
    private final CommandSpec spec;
    /** Long name of every option given (under its current spelling) to its value as typed; "" for a flag. */
    private final Map<String, String> given = new HashMap<>();
    /** The words that are not options, in order ({@code quarry data fetch mnist}: fetch, mnist). */
    private final List<String> args;

    Parsed(CommandSpec spec, CommandLine cl, PrintStream err) {
        this.spec = spec;
        this.args = List.copyOf(cl.getArgList());
        for (OptionSpec<?> o : spec.options())
            if (cl.hasOption(o.name())) given.put(o.name(), o.isFlag() ? "" : cl.getOptionValue(o.name()));
        // value aliases first: "--dropout blocks" must leave --dropout free for "--p 0.3" in the same line
        List<CommandSpec.Alias> aliases = new ArrayList<>(spec.aliases());
        aliases.sort(java.util.Comparator.comparing(a -> a.when() == null));
        for (CommandSpec.Alias a : aliases) {
            if (!cl.hasOption(a.name())) continue;
            String v = a.target().isFlag() ? "" : cl.getOptionValue(a.name());
            String old = "--" + a.name(), now = "--" + a.target().name();
            if (a.when() != null) {
                if (!a.when().test(v)) continue;
                given.remove(a.name());
                old += " " + v;
                now += " " + v;
            }
            if (given.containsKey(a.target().name()))
                throw new Main.UsageException(old + " is the deprecated spelling of --" + a.target().name() + ": give only one of them");
            given.put(a.target().name(), v);
            err.println("quarry: " + old + " is deprecated for " + spec.name() + "; use " + now);
        }
        List<String> missing = new ArrayList<>();
        for (OptionSpec<?> o : spec.options())
            if (o.required() && !given.containsKey(o.name())) missing.add(o.name());
        // the wording of Commons CLI's MissingOptionException, which reported these before aliases existed
        if (!missing.isEmpty())
            throw new Main.UsageException("Missing required option" + (missing.size() == 1 ? "" : "s") + ": " + String.join(", ", missing));
    }

    /** The command's own definition of {@code o} (its default may differ from the shared one). */
    @SuppressWarnings("unchecked")
    private <T> OptionSpec<T> mine(OptionSpec<T> o) {
        OptionSpec<?> s = spec.option(o.name());
        if (s == null) throw new IllegalStateException("quarry " + spec.name() + " has no option --" + o.name());
        return (OptionSpec<T>) s;
    }

    /** The arguments that are not options, in order. */
    List<String> args() {
        return args;
    }

    /** The command has this option. */
    boolean declares(OptionSpec<?> o) {
        return spec.option(o.name()) != null;
    }

    /** Given on the command line (under its current or a deprecated spelling). */
    boolean has(OptionSpec<?> o) {
        return given.containsKey(mine(o).name());
    }

    /** The value given, else the command's default, read by the option's parser; null where neither exists. */
    @SuppressWarnings("unchecked")
    <T> T get(OptionSpec<T> o) {
        OptionSpec<T> s = mine(o);
        if (s.isFlag()) return (T) Boolean.valueOf(given.containsKey(s.name()));
        String raw = given.containsKey(s.name()) ? given.get(s.name()) : s.defaultValue() == null ? null : s.defaultValue().apply(this);
        return raw == null ? null : s.parser().parse(s.name(), raw);
    }

    float getFloat(OptionSpec<Double> o) {
        return (float) (double) get(o);
    }

    boolean flag(OptionSpec<Boolean> o) {
        return get(o);
    }

    /** The value as typed, or the default as it would be typed, unparsed; null where neither exists. */
    String raw(OptionSpec<?> o) {
        OptionSpec<?> s = mine(o);
        return given.containsKey(s.name()) ? given.get(s.name()) : s.defaultValue() == null ? null : s.defaultValue().apply(this);
    }
}
