package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.eval.Evaluation;
import dev.moekit.pipeline.recipe.Devices;
import dev.moekit.pipeline.recipe.EvalSettings;
import dev.moekit.eval.EvalResult;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code moekit eval}: perplexity per data file, and with {@code --ref} KL divergence and top-1 agreement. */
final class EvalCommand implements Command {
    @Override
    public String name() {
        return "eval";
    }

    @Override
    public String summary() {
        return "perplexity per data file; with --ref, KL divergence and top-1 agreement (packed quantized checkpoints too)";
    }

    @Override
    public String arguments() {
        return "<checkpoint>";
    }

    @Override
    public Options options() {
        return Main.options(
                Main.opt("ref", "CKPT", "reference checkpoint (usually the uncompressed input) for KL divergence and agreement"),
                Option.builder().longOpt("data").hasArgs().argName("FILE|GLOB").desc("text files, globs allowed (default: "
                        + "$MOEKIT_DATA or ../shared/data, *.test.txt)").get(),
                Main.opt("windows", "N", "windows per file (default 32)"),
                Main.opt("window", "TOKENS", "tokens per window, bos included (default 256)"),
                Main.opt("device", "cpu|gpu[:N]", "where to run (default cpu)"),
                Main.opt("dtype", "fp32|fp16", "compute precision (fp16 only on GPU; default fp32)"),
                Main.opt("batch", "N", "windows per forward pass (default 8)"),
                Main.flag("layerwise", "load one layer at a time (models larger than device memory)"),
                Main.opt("json", "FILE", "also write the result as JSON to FILE ('-' for stdout instead of the table)"));
    }

    @Override
    public String footer() {
        return "Protocol: each file is tokenized whole without special tokens, bos is prepended, it is cut into windows from\n"
                + "the start, and every position but each window's first is scored; ppl = exp(mean NLL). KL statistics are\n"
                + "over all scored positions: mean, median, p90, p99, max (as llama.cpp's perplexity tool reports).";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path model = Path.of(Main.arg(cl, 0, "<checkpoint> folder"));
        Main.expectArgs(cl, 1);
        EvalSettings s;
        String device;
        try {
            s = new EvalSettings(cl.hasOption("data") ? List.of(cl.getOptionValues("data")) : List.of(),
                    Main.intValue(cl, "windows", 32, 1, 1_000_000), Main.intValue(cl, "window", 256, 2, 1 << 20), cl.hasOption("ref"),
                    cl.getOptionValue("dtype", "fp32"), Main.intValue(cl, "batch", 8, 1, 4096), cl.hasOption("layerwise"));
            device = Devices.check(cl.getOptionValue("device", "cpu"));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        ProgressBar events = new ProgressBar(System.err);
        Evaluation ev = Pipeline.standard(events).evaluation();
        EvalResult r = ev.evaluate(model, cl.hasOption("ref") ? Path.of(cl.getOptionValue("ref")) : null, s, Evaluation.data(s), device, events);
        String json = cl.getOptionValue("json");
        if ("-".equals(json)) {
            out.println(Json.PRETTY.writeValueAsString(r.toJson()));
        } else {
            out.print(r.table());
            if (json != null) {
                Json.PRETTY.writeValue(Path.of(json).toFile(), r.toJson());
            }
        }
        return 0;
    }
}
