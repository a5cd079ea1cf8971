package dev.moekit.recipes.cli;

import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.toolkit.io.Globs;
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
        List<String> data = cl.hasOption("data") ? List.of(cl.getOptionValues("data"))
                : List.of(Globs.defaultDataDir().resolve("*.test.txt").toString());
        RuntimeOptions rt = runtime(cl.getOptionValue("device", "cpu"), cl.getOptionValue("dtype", "fp32"),
                cl.hasOption("layerwise"), Integer.parseInt(cl.getOptionValue("batch", "8")));
        EvalOptions opts = EvalOptions.of(Globs.expand(data))
                .withWindows(Integer.parseInt(cl.getOptionValue("window", "256")), Integer.parseInt(cl.getOptionValue("windows", "32")))
                .withRuntime(rt);
        if (cl.hasOption("ref")) {
            opts = opts.withReference(Path.of(cl.getOptionValue("ref")));
        }
        EvalResult r = EvalInput.evaluate(model, opts, msg -> System.err.println("moekit: " + msg));
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

    static RuntimeOptions runtime(String device, String dtype, boolean layerwise, int batch) {
        return new RuntimeOptions(RuntimeOptions.parseDevice(device), Precision.parse(dtype), layerwise, batch);
    }
}
