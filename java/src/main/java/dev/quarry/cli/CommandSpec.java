package dev.quarry.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * What one command (or bench workload) accepts: its options, in help order, and the deprecated spellings that
 * still parse. {@link Cli#parse} and {@link Cli#help} both work from this, and nothing else.
 *
 * @param name    as typed after {@code quarry}: "train", "bench mc"
 * @param usage   the arguments after the name, for the usage line; null: the required options, then [options]
 * @param summary one line: what the command does
 */
record CommandSpec(String name, String usage, String summary, List<OptionSpec<?>> options, List<Alias> aliases) {

    /**
     * An old spelling of an option. With {@code when == null} it is an option of its own ({@code --batch} for
     * {@code --acquisition-size}); otherwise {@code name} is a current option whose values matching {@code when}
     * keep their old meaning ({@code bench train --dropout blocks} for {@code --dropout-placement blocks}).
     */
    record Alias(String name, OptionSpec<?> target, Predicate<String> when) {
        static Alias of(String name, OptionSpec<?> target) {
            return new Alias(name, target, null);
        }
    }

    CommandSpec {
        options = List.copyOf(options);
        aliases = List.copyOf(aliases);
    }

    /** The options of several groups, in order; a later spec of the same name replaces an earlier one in place. */
    @SafeVarargs
    static List<OptionSpec<?>> join(List<? extends OptionSpec<?>>... groups) {
        List<OptionSpec<?>> out = new ArrayList<>();
        for (List<? extends OptionSpec<?>> g : groups)
            for (OptionSpec<?> o : g) {
                int i = indexOf(out, o.name());
                if (i >= 0) out.set(i, o);
                else out.add(o);
            }
        return out;
    }

    /** Single specs as a group, for {@link #join}. */
    static List<OptionSpec<?>> these(OptionSpec<?>... specs) {
        return Arrays.asList(specs);
    }

    private static Option help() {
        return Option.builder("h").longOpt("help").desc("print this help and exit").get();
    }

    private static int indexOf(List<OptionSpec<?>> list, String name) {
        for (int i = 0; i < list.size(); i++)
            if (list.get(i).name().equals(name)) return i;
        return -1;
    }

    OptionSpec<?> option(String longName) {
        int i = indexOf(options, longName);
        return i < 0 ? null : options.get(i);
    }

    /**
     * What the parser accepts: every option and every alias that is an option of its own. Not -h/--help: {@link Main}
     * answers those before a command runs.
     */
    Options parserOptions() {
        Options o = new Options();
        for (OptionSpec<?> s : options) o.addOption(s.toOption(false));
        for (Alias a : aliases) {
            if (a.when() != null) continue;
            Option.Builder b = Option.builder().longOpt(a.name()).desc("deprecated: use --" + a.target().name());
            if (!a.target().isFlag()) b.hasArg().argName(a.target().argName());
            o.addOption(b.get());
        }
        return o;
    }

    /** What the help lists: the options (deprecated spellings go in the footer) and -h/--help. */
    Options helpOptions() {
        Options o = new Options();
        for (OptionSpec<?> s : options) o.addOption(s.toOption(true));
        return o.addOption(help());
    }
}
