package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;

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

    /** The distillation engine's options every training command offers, with their recipe keys. */
    enum Training {
        BATCH_SIZE("batch-size", "N", "windows per forward (default 8)", "batch_size", 'i'),
        ACCUMULATE("accumulate", "N", "micro-batches per optimizer step (default 1)", "accumulation", 'i'),
        WINDOW("window", "T", "tokens per training window (default 256)", "window", 'i'),
        WINDOWS_PER_FILE("windows-per-file", "N", "windows taken from each calibration file (default all)", "windows_per_file", 'i'),
        LR("lr", "LR", "peak learning rate (default 1e-4)", "lr", 'd'),
        MIN_LR("min-lr", "LR", "learning rate at the end of the cosine decay (default lr/10)", "min_lr", 'd'),
        WARMUP("warmup", "N", "linear warm-up steps (default 0)", "warmup", 'i'),
        WEIGHT_DECAY("weight-decay", "W", "AdamW weight decay on matrices (default 0.01)", "weight_decay", 'd'),
        CLIP("clip", "C", "gradient-norm clip, 0 for none (default 1)", "clip", 'd'),
        PRECISION("precision", "fp32|fp16", "compute dtype (default fp32 on CPU, fp16 with loss scaling on GPU)", "precision", 's');

        final String opt;
        private final String arg;
        private final String help;
        private final String key;
        private final char type;

        Training(String opt, String arg, String help, String key, char type) {
            this.opt = opt;
            this.arg = arg;
            this.help = help;
            this.key = key;
            this.type = type;
        }

        Option option() {
            return Main.opt(opt, arg, help);
        }

        void copy(CommandLine cl, ObjectNode p) {
            switch (type) {
                case 'i' -> ints(cl, p, opt, key);
                case 'd' -> doubles(cl, p, opt, key);
                default -> strings(cl, p, opt, key);
            }
        }

        /** The options of {@code which}, in declaration order. */
        static java.util.List<Option> options(Set<Training> which) {
            return which.stream().sorted().map(Training::option).toList();
        }

        /** {@code own} followed by the options of {@code which}. */
        static Option[] with(Set<Training> which, Option... own) {
            java.util.List<Option> all = new java.util.ArrayList<>(java.util.List.of(own));
            all.addAll(options(which));
            return all.toArray(Option[]::new);
        }

        /** Copies each of {@code which} that is given into {@code p}. */
        static void copyAll(CommandLine cl, ObjectNode p, Set<Training> which) {
            which.forEach(t -> t.copy(cl, p));
        }
    }
}
