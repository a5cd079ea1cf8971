package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code moekit compress-experts}: top-k becomes {@code --main} experts that run plus compressed experts represented
 * by trained {@code ces} vectors (He et al. 2025); a one-stage recipe ({@code compress_experts}). Training runs on the
 * calibration files against the input model (KD) or the text; its loss curve lands in {@code <out>.report/}.
 */
final class CompressExpertsCommand implements Command {
    @Override
    public String name() {
        return "compress-experts";
    }

    @Override
    public String summary() {
        return "compressed experts: run k_m of the top-k experts, represent the rest by trained ces vectors";
    }

    @Override
    public String arguments() {
        return "<in> <out>";
    }

    @Override
    public Options options() {
        return Main.options(OneStepRecipe.with(
                Main.opt("main", "K", "experts run per token (k_m, below the model's top-k; required)"),
                Main.opt("train-tokens", "N", "training tokens (default 0: ces stays at ones)"),
                Main.opt("train", "GROUPS", "what trains: ces, routers, experts, attention, mlp, norms, embeddings, all (default ces)"),
                Main.opt("loss", "kd|ce", "KD on the input model's top-k logits (default) or next-token loss"),
                Main.flag("no-ce", "plain top-main with the same training (the baseline without compressed experts)"),
                Main.opt("layout", "split|code", "ces storage: [E, 2*hidden+ffn] (default) or the released code's [E, 3, hidden]"),
                Main.opt("batch-size", "N", "windows per forward (default 8)"),
                Main.opt("accumulate", "N", "micro-batches per optimizer step (default 1)"),
                Main.opt("window", "T", "tokens per training window (default 256)"),
                Main.opt("windows-per-file", "N", "windows taken from each calibration file (default all)"),
                Main.opt("lr", "LR", "peak learning rate (default 1e-2)"),
                Main.opt("warmup", "N", "linear warm-up steps (default 0)"),
                Main.opt("top-k", "K", "teacher logits kept per position for KD (default 8)"),
                Main.opt("precision", "fp32|fp16", "compute dtype (default fp32 on CPU, fp16 on GPU)"),
                Main.opt("state", "DIR", "training-state folder: an interrupted run started again resumes from it")));
    }

    @Override
    public String footer() {
        return "Examples:\n  moekit compress-experts mixtral out --main 1\n"
                + "  moekit compress-experts mixtral out --main 1 --train-tokens 500000 --train ces --eval\n"
                + "The output loads in transformers with trust_remote_code=True (modeling_moekit_ce.py beside the weights).";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        var io = OneStepRecipe.inOut(cl);
        if (!cl.hasOption("main")) {
            throw new UsageException("compress-experts needs --main K (experts run per token)");
        }
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("main", Main.intValue(cl, "main", 1, 1, Integer.MAX_VALUE));
        if (cl.hasOption("train-tokens")) {
            p.put("train_tokens", Main.longValue(cl, "train-tokens", 0));
        }
        if (cl.hasOption("no-ce")) {
            p.put("compressed", false);
        }
        for (String[] s : new String[][] {{"train", "train"}, {"loss", "loss"}, {"layout", "layout"}, {"precision", "precision"}}) {
            if (cl.hasOption(s[0])) {
                p.put(s[1], cl.getOptionValue(s[0]));
            }
        }
        for (String[] s : new String[][] {{"batch-size", "batch_size"}, {"accumulate", "accumulation"}, {"window", "window"},
                {"windows-per-file", "windows_per_file"}, {"warmup", "warmup"}, {"top-k", "top_k"}}) {
            if (cl.hasOption(s[0])) {
                p.put(s[1], Main.intValue(cl, s[0], 0, 0, Integer.MAX_VALUE));
            }
        }
        if (cl.hasOption("lr")) {
            p.put("lr", Main.doubleValue(cl, "lr"));
        }
        if (cl.hasOption("state")) {
            p.put("state_dir", java.nio.file.Path.of(cl.getOptionValue("state")).toAbsolutePath().normalize().toString());
        }
        var o = io[1];
        return OneStepRecipe.run(cl, out, io[0], o, List.of(new StageEntry("compress_experts", p)),
                res -> DistillCommand.writeReport(res, o, out, "compress_experts"));
    }
}
