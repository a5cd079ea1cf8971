package dev.moekit.recipes.cli;

import static dev.moekit.recipes.cli.ParamOptions.doubles;
import static dev.moekit.recipes.cli.ParamOptions.ints;
import static dev.moekit.recipes.cli.ParamOptions.strings;

import dev.moekit.recipes.cli.ParamOptions.Training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code moekit distill}: trains the student's chosen parameters towards a teacher (top-k KD) and/or the text on the
 * calibration files; a one-stage recipe ({@code distill}) run by the recipe runner. The loss log and chart land in
 * {@code <out>.report/} ({@code loss.csv}, {@code loss.png}), beside the checkpoint, never inside it.
 */
final class DistillCommand implements Command {
    @Override
    public String name() {
        return "distill";
    }

    @Override
    public String summary() {
        return "train a student towards a teacher's top-k logits (KD) and/or the text: routers, experts, attention, all";
    }

    @Override
    public String arguments() {
        return "<student> <out>";
    }

    @Override
    public Options options() {
        return Main.options(OneStepRecipe.with(Training.with(EnumSet.allOf(Training.class),
                Main.opt("teacher", "DIR", "teacher checkpoint (same tokenizer); without it the student learns from the text (CE)"),
                Main.opt("steps", "N", "optimizer steps (default 100)"),
                Main.opt("train", "GROUPS", "what trains: routers, experts, attention, mlp, norms, embeddings, all (default all; comma-separated)"),
                Main.opt("kd-weight", "W", "weight of the top-k KD loss (default 1 with a teacher)"),
                Main.opt("ce-weight", "W", "weight of next-token cross-entropy (default 0 with a teacher, else 1)"),
                Main.opt("top-k", "K", "teacher logits kept per position (default 8, as SlimMoE)"),
                Main.opt("temperature", "T", "KD temperature (default 1)"),
                Main.opt("kd-support", "topk|full", "student normalised over the teacher's top-k (default) or the vocabulary"),
                Main.opt("balance-weight", "W", "weight of the MoE load-balancing loss (default 0)"),
                Main.opt("z-loss-weight", "W", "weight of the router z-loss (default 0)"),
                Main.opt("teacher-cache", "auto|cache|live", "teacher top-k computed once per window, or every step (default auto)"),
                Main.opt("state", "DIR", "training-state folder: an interrupted run started again resumes from it"),
                Main.opt("checkpoint-every", "N", "steps between training-state checkpoints (default steps/10 with --state)"))));
    }

    @Override
    public String footer() {
        return "Examples:\n  moekit distill pruned out --teacher original --steps 500 --train experts,routers --lr 1e-4\n"
                + "  moekit distill student out --teacher teacher --steps 2000 --state out.state --checkpoint-every 100\n"
                + "The loss curve is written to <out>.report/loss.csv and loss.png.";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        ObjectNode p = Json.PRETTY.createObjectNode();
        Training.copyAll(cl, p, EnumSet.allOf(Training.class));
        if (cl.hasOption("teacher")) {
            p.put("teacher", Path.of(cl.getOptionValue("teacher")).toAbsolutePath().normalize().toString());
        }
        ints(cl, p, "steps", "steps");
        ints(cl, p, "top-k", "top_k");
        ints(cl, p, "checkpoint-every", "checkpoint_every");
        doubles(cl, p, "kd-weight", "kd_weight");
        doubles(cl, p, "ce-weight", "ce_weight");
        doubles(cl, p, "temperature", "temperature");
        doubles(cl, p, "balance-weight", "balance_weight");
        doubles(cl, p, "z-loss-weight", "z_loss_weight");
        strings(cl, p, "train", "train");
        strings(cl, p, "kd-support", "kd_support");
        strings(cl, p, "teacher-cache", "teacher_cache");
        if (cl.hasOption("state")) {
            p.put("state_dir", Path.of(cl.getOptionValue("state")).toAbsolutePath().normalize().toString());
        }
        Path o = io[1];
        return OneStepRecipe.run(cl, out, io[0], o, List.of(new StageEntry("distill", p)), res -> writeReport(res, o, out));
    }

    /** {@code <out>.report/loss.csv} and {@code loss.png} from the distill stage's report. */
    static void writeReport(Pipeline.Result res, Path o, PrintStream out) {
        writeReport(res, o, out, "distill");
    }

    /** The report of the training stage {@code stage} (distill, compress_experts, upcycling: its training report, or a
     * {@code training} object inside it). */
    static void writeReport(Pipeline.Result res, Path o, PrintStream out, String stage) {
        for (JsonNode s : res.provenance().path("stages")) {
            JsonNode r = s.path("report");
            if (r.has("training")) {
                r = r.path("training");
            }
            if (!stage.equals(s.path("stage").asText()) || !r.has("loss_csv")) {
                continue;
            }
            Path dir = o.toAbsolutePath().normalize().resolveSibling(o.getFileName() + ".report");
            try {
                Files.createDirectories(dir);
                Files.writeString(dir.resolve("loss.csv"), r.path("loss_csv").asText(), StandardCharsets.UTF_8);
                Files.write(dir.resolve("loss.png"), Base64.getDecoder().decode(r.path("loss_png").asText()));
            } catch (IOException e) {
                throw new UncheckedIOException(dir + ": cannot write the loss curve", e);
            }
            out.println("moekit: loss curve in " + dir);
        }
    }
}
