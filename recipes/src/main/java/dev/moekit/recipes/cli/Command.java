package dev.moekit.recipes.cli;

import java.io.PrintStream;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** One {@code moekit} subcommand. Commands know nothing of the dispatcher; they parse nothing themselves. */
interface Command {
    String name();

    /** One line for {@code moekit --help}. */
    String summary();

    /** Positional arguments, for the usage line, e.g. {@code <checkpoint>}. */
    String arguments();

    Options options();

    /** Runs the command; returns the process exit code. Bad input is thrown, not printed. */
    int run(CommandLine cl, PrintStream out) throws Exception;

    /** Extra help text after the options (examples, notes); empty by default. */
    default String footer() {
        return "";
    }
}
