package dev.moekit.recipes.cli;

import static dev.moekit.recipes.cli.ParamOptions.doubles;
import static dev.moekit.recipes.cli.ParamOptions.ints;
import static dev.moekit.recipes.cli.ParamOptions.strings;

import dev.moekit.recipes.cli.ParamOptions.Training;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code moekit upcycle}, {@code moekit btx} and {@code moekit bam}: build a mixture of experts from a dense seed
 * (and, for BTX/BAM, the specialists branched from it), optionally fine-tuned on the calibration text; each a
 * one-stage recipe of the stage of the same name, so the command line gets the recipe's validation, resume and
 * provenance. The loss curve of a trained run lands in {@code <out>.report/}.
 */
final class UpcycleCommand implements Command {
    /** The engine options the upcycling stages take (their schedule has no min_lr or clip key). */
    private static final java.util.Set<Training> TRAINING = java.util.EnumSet.complementOf(java.util.EnumSet.of(Training.MIN_LR, Training.CLIP));

    private final String name;

    UpcycleCommand(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String summary() {
        return switch (name) {
            case "upcycle" -> "sparse upcycling: a dense model's MLP copied into E experts with new routers (Mixtral or Qwen2-MoE)";
            case "btx" -> "Branch-Train-MiX: the specialists' MLPs as experts, averaged attention, new top-2 routers (Mixtral)";
            default -> "Branch-Attend-Mix: BTX plus the specialists' attention as soft-routed attention experts (own modeling code)";
        };
    }

    @Override
    public String arguments() {
        return "<seed> <out>";
    }

    @Override
    public Options options() {
        List<Option> own = new ArrayList<>();
        if (name.equals("upcycle")) {
            own.add(Main.opt("experts", "N", "experts per MoE layer (default 8)"));
            own.add(Main.opt("layers", "all|every_other", "MoE in all layers (Mixtral) or every other layer (Qwen2-MoE) (default all)"));
        } else {
            own.add(Main.opt("experts", "DIR,DIR,...", "specialist checkpoints branched from the seed, one expert each (comma-separated)"));
            own.add(Main.flag("no-seed", "do not add the seed as one more expert"));
            own.add(Main.opt("average", "all|specialists", "what attention, norms and embeddings average (default all: seed and specialists)"));
        }
        if (name.equals("bam")) {
            own.add(Main.opt("attention", "expert_kv|shared_kv", "attention experts with their own K,V (default) or shared averaged K,V"));
            own.add(Main.flag("parallel", "parallel attention block (attention and FFN from the same input); default sequential, as the seed"));
        }
        own.add(Main.opt("top-k", "K", "experts per token (default 2)"));
        own.add(Main.opt("router-std", "S", "standard deviation of the new routers (default the seed's initializer_range)"));
        own.add(Main.opt("train-tokens", "N", "fine-tuning tokens on the calibration text, 0 to assemble only (default 0)"));
        own.add(Main.opt("train", "GROUPS", "what trains: routers or all, or parameter groups comma-separated (default all)"));
        own.add(Main.opt("balance-weight", "W", "load-balancing loss weight (default 0.01)"));
        own.add(Main.opt("z-loss-weight", "W", "router z-loss weight (default 0" + (name.equals("bam") ? ".001)" : ")")));
        own.add(Main.opt("state", "DIR", "training-state folder: an interrupted run started again resumes from it"));
        own.addAll(Training.options(TRAINING));
        return Main.options(OneStepRecipe.with(own.toArray(Option[]::new)));
    }

    @Override
    public String footer() {
        return switch (name) {
            case "upcycle" -> "Examples:\n  moekit upcycle llama-tiny-seed moe --experts 8 --top-k 2\n"
                    + "  moekit upcycle llama-tiny-seed moe --layers every_other --train-tokens 500000";
            case "btx" -> "Example:\n  moekit btx llama-tiny-seed btx --experts llama-tiny-python,llama-tiny-kernel --train-tokens 500000 --train routers";
            default -> "Example:\n  moekit bam llama-tiny-seed bam --experts llama-tiny-python,llama-tiny-kernel --attention shared_kv --train-tokens 500000\n"
                    + "Load the output in transformers with trust_remote_code=True.";
        };
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        ObjectNode p = Json.PRETTY.createObjectNode();
        Training.copyAll(cl, p, TRAINING);
        if (name.equals("upcycle")) {
            ints(cl, p, "experts", "experts");
            strings(cl, p, "layers", "layers");
        } else {
            if (cl.hasOption("experts")) {
                ArrayNode a = p.putArray("experts");
                for (String s : cl.getOptionValue("experts").split(",")) {
                    if (!s.isBlank()) {
                        a.add(Path.of(s.trim()).toAbsolutePath().normalize().toString());
                    }
                }
            }
            if (cl.hasOption("no-seed")) {
                p.put("include_seed", false);
            }
            strings(cl, p, "average", "average");
        }
        if (name.equals("bam")) {
            strings(cl, p, "attention", "attention");
            if (cl.hasOption("parallel")) {
                p.put("parallel", true);
            }
        }
        ints(cl, p, "top-k", "top_k");
        if (cl.hasOption("train-tokens")) {
            p.put("train_tokens", Main.longValue(cl, "train-tokens", 0));
        }
        doubles(cl, p, "router-std", "router_std");
        doubles(cl, p, "balance-weight", "balance_weight");
        doubles(cl, p, "z-loss-weight", "z_loss_weight");
        strings(cl, p, "train", "train");
        if (cl.hasOption("state")) {
            p.put("state_dir", Path.of(cl.getOptionValue("state")).toAbsolutePath().normalize().toString());
        }
        Path o = io[1];
        return OneStepRecipe.run(cl, out, io[0], o, List.of(new StageEntry(name, p)), res -> DistillCommand.writeReport(res, o, out, name));
    }
}
