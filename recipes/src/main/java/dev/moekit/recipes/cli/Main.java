package dev.moekit.recipes.cli;

import dev.moekit.toolkit.io.CheckpointException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;

/**
 * The {@code moekit} command line: {@code moekit [--debug] <command> [options] [args]}. Exit codes: 0 success, 1 the
 * work failed (bad input, failed check), 2 the command line is wrong.
 */
public final class Main {
    public static final String VERSION = dev.moekit.pipeline.Version.VERSION;

    private final Map<String, Command> commands = new LinkedHashMap<>();

    Main(List<Command> all) {
        for (Command c : all) {
            if (commands.put(c.name(), c) != null) {
                throw new IllegalStateException("two commands named " + c.name());
            }
        }
    }

    public static void main(String[] args) {
        System.exit(new Main(Commands.all()).run(args, System.out, System.err));
    }

    int run(String[] args, PrintStream out, PrintStream err) {
        boolean debug = false;
        int i = 0;
        for (; i < args.length && args[i].startsWith("-"); i++) {
            switch (args[i]) {
                case "-h", "--help" -> {
                    printMainHelp(out);
                    return 0;
                }
                case "--version" -> {
                    out.println("moekit " + VERSION);
                    return 0;
                }
                case "--debug" -> debug = true;
                default -> {
                    err.println("moekit: unknown option " + args[i]);
                    printMainHelp(err);
                    return 2;
                }
            }
        }
        if (i == args.length) {
            printMainHelp(err);
            return 2;
        }
        Command cmd = commands.get(args[i]);
        if (cmd == null) {
            err.println("moekit: unknown command '" + safe(args[i]) + "' (known: " + String.join(", ", commands.keySet()) + ")");
            return 2;
        }
        String[] rest = Arrays.copyOfRange(args, i + 1, args.length);
        if (Arrays.asList(rest).contains("--help") || Arrays.asList(rest).contains("-h")) {
            printHelp(cmd, out);
            return 0;
        }
        try {
            CommandLine cl = new DefaultParser().parse(cmd.options(), rest);
            return cmd.run(cl, out);
        } catch (ParseException | UsageException e) {
            err.println("moekit " + cmd.name() + ": " + safe(e.getMessage()));
            printUsage(cmd, err);
            return 2;
        } catch (CheckpointException | IllegalArgumentException | UncheckedIOException e) {
            err.println("moekit " + cmd.name() + ": " + safe(e.getMessage()));
            if (debug) {
                e.printStackTrace(err);
            }
            return 1;
        } catch (Exception e) {
            err.println("moekit " + cmd.name() + ": failed: " + safe(String.valueOf(e)));
            if (debug) {
                e.printStackTrace(err);
            } else {
                err.println("(run with --debug for the stack trace)");
            }
            return 1;
        }
    }

    /**
     * A message as printed: control characters (terminal escape codes, carriage returns, bidi overrides) that came
     * from files or arguments are written as {@code \\uXXXX}, so no message can rewrite the user's terminal.
     */
    static String safe(String message) {
        if (message == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(message.length());
        message.codePoints().forEach(c -> {
            boolean control = (c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
            b.append(control ? String.format("\\u%04x", c) : Character.toString(c));
        });
        return b.toString();
    }

    private void printMainHelp(PrintStream out) {
        out.println("usage: moekit [--debug] <command> [options] [arguments]");
        out.println();
        out.println("Compresses Mixture-of-Experts checkpoints (Hugging Face safetensors folders).");
        out.println();
        out.println("Commands:");
        int w = commands.keySet().stream().mapToInt(String::length).max().orElse(8);
        for (Command c : commands.values()) {
            out.printf("  %-" + w + "s  %s%n", c.name(), c.summary());
        }
        out.println();
        out.println("Options:");
        out.println("  --debug     print stack traces on failure");
        out.println("  --version   print the version");
        out.println("  -h, --help  this help; 'moekit <command> --help' for a command's options");
    }

    private static void printUsage(Command cmd, PrintStream out) {
        out.println("usage: moekit " + cmd.name() + " [options] " + cmd.arguments() + "   (see moekit " + cmd.name() + " --help)");
    }

    static void printHelp(Command cmd, PrintStream out) {
        PrintWriter pw = new PrintWriter(out);
        HelpFormatter f = new HelpFormatter();
        f.setWidth(110);
        f.printHelp(pw, 110, "moekit " + cmd.name() + " [options] " + cmd.arguments(), cmd.summary(), cmd.options(), 2, 2,
                cmd.footer().isEmpty() ? null : "\n" + cmd.footer(), false);
        pw.flush();
    }

    /** Shorthand for an option with a value. */
    static Option opt(String longName, String arg, String description) {
        return Option.builder().longOpt(longName).hasArg().argName(arg).desc(description).get();
    }

    /** Shorthand for a flag. */
    static Option flag(String longName, String description) {
        return Option.builder().longOpt(longName).desc(description).get();
    }

    static Options options(Option... os) {
        Options o = new Options();
        for (Option x : os) {
            o.addOption(x);
        }
        o.addOption(Option.builder("h").longOpt("help").desc("show this help").get());
        return o;
    }

    /** The single positional argument, or a usage error naming what is missing. */
    static String arg(CommandLine cl, int index, String what) {
        List<String> a = cl.getArgList();
        if (a.size() <= index) {
            throw new UsageException("missing " + what);
        }
        return a.get(index);
    }

    /** An integer option in [min, max], or {@code def}; a bad value is a usage error naming the option. */
    static int intValue(CommandLine cl, String opt, int def, int min, int max) {
        long v = longValue(cl, opt, def);
        if (v < min || v > max) {
            throw new UsageException("--" + opt + " must be in " + min + ".." + max + ", got " + v);
        }
        return (int) v;
    }

    /** A long option, or {@code def}; a bad value is a usage error naming the option. */
    static long longValue(CommandLine cl, String opt, long def) {
        String v = cl.getOptionValue(opt);
        if (v == null) {
            return def;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + opt + " needs an integer, got '" + v + "'");
        }
    }

    /** A finite number option, or null when absent; a bad value is a usage error naming the option. */
    static Double doubleValue(CommandLine cl, String opt) {
        String v = cl.getOptionValue(opt);
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v.trim());
            if (!Double.isFinite(d)) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + opt + " needs a number, got '" + v + "'");
        }
    }

    static void expectArgs(CommandLine cl, int n) {
        if (cl.getArgList().size() > n) {
            throw new UsageException("unexpected argument(s) " + cl.getArgList().subList(n, cl.getArgList().size()));
        }
    }
}
