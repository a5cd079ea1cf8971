package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.commons.cli.CommandLine;

/** Copies a given command-line option into a stage's parameters under its recipe key (absent options stay absent). */
final class ParamOptions {
    private ParamOptions() {}

    static void ints(CommandLine cl, ObjectNode p, String opt, String key) {
        if (cl.hasOption(opt)) {
            p.put(key, Main.intValue(cl, opt, 0, 0, Integer.MAX_VALUE));
        }
    }

    static void doubles(CommandLine cl, ObjectNode p, String opt, String key) {
        if (cl.hasOption(opt)) {
            p.put(key, Main.doubleValue(cl, opt));
        }
    }

    static void strings(CommandLine cl, ObjectNode p, String opt, String key) {
        if (cl.hasOption(opt)) {
            p.put(key, cl.getOptionValue(opt));
        }
    }
}
