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
import java.util.EnumSet;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code moekit slim}: SlimMoE, slimming every expert's FFN and dropping whole GQA groups in prune-then-distill
 * rounds with the input as the teacher; a one-stage recipe ({@code slim}) run by the recipe runner. The loss log of
 * each distillation round lands in {@code <out>.report/loss-round-N.csv}.
 */
final class SlimCommand implements Command {
    @Override
    public String name() {
        return "slim";
    }

    @Override
    public String summary() {
        return "SlimMoE: slim every expert's FFN width and drop GQA groups by KD sensitivity, in prune-then-distill rounds";
    }

    @Override
    public String arguments() {
        return "<in> <out>";
    }

    @Override
    public Options options() {
        return Main.options(OneStepRecipe.with(Training.with(EnumSet.allOf(Training.class),
                Main.opt("expert-ffn", "F", "fraction of the expert FFN width kept, in (0, 1] (default 0.5)"),
                Main.opt("kv-groups", "N", "KV groups (a KV head and its query heads) kept per layer (default all)"),
                Main.opt("stages", "N", "prune-then-distill rounds (default 2; 1 = one-shot)"),
                Main.opt("distill-tokens", "N", "training tokens over all rounds (default 0: slim only)"),
                Main.opt("stage-tokens", "N,N,..", "training tokens of each round instead of an even split"),
                Main.opt("widths", "geometric|linear", "spacing of the intermediate expert widths (default geometric)"),
                Main.opt("score-windows", "N", "calibration windows scored per round (default 32)"),
                Main.opt("score-loss", "auto|kd|ce", "loss of the sensitivity scores (default auto: CE on the original, then KD)"),
                Main.opt("train", "GROUPS", "what trains in the distillation rounds (default all)"),
                Main.opt("kd-weight", "W", "weight of the top-k KD loss (default 1)"),
                Main.opt("ce-weight", "W", "weight of next-token cross-entropy (default 0)"),
                Main.opt("top-k", "K", "teacher logits kept per position (default 8)"),
                Main.opt("temperature", "T", "KD temperature (default 1)"))));
    }

    @Override
    public String footer() {
        return "Examples:\n  moekit slim in out --expert-ffn 0.5 --stages 2 --distill-tokens 2000000 --lr 1e-4\n"
                + "  moekit slim in out --expert-ffn 0.25 --kv-groups 3 --stages 1 --distill-tokens 0 --eval";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        ObjectNode p = Json.PRETTY.createObjectNode();
        Training.copyAll(cl, p, EnumSet.allOf(Training.class));
        doubles(cl, p, "expert-ffn", "expert_ffn");
        ints(cl, p, "kv-groups", "kv_groups");
        ints(cl, p, "stages", "stages");
        if (cl.hasOption("distill-tokens")) {
            p.put("distill_tokens", Main.longValue(cl, "distill-tokens", 0));
        }
        if (cl.hasOption("stage-tokens")) {
            var a = p.putArray("stage_tokens");
            for (String s : cl.getOptionValue("stage-tokens").split(",")) {
                try {
                    a.add(Long.parseLong(s.trim()));
                } catch (NumberFormatException e) {
                    throw new UsageException("--stage-tokens needs comma-separated integers, got '" + cl.getOptionValue("stage-tokens") + "'");
                }
            }
        }
        strings(cl, p, "widths", "widths");
        ints(cl, p, "score-windows", "score_windows");
        strings(cl, p, "score-loss", "score_loss");
        strings(cl, p, "train", "train");
        ints(cl, p, "top-k", "top_k");
        doubles(cl, p, "kd-weight", "kd_weight");
        doubles(cl, p, "ce-weight", "ce_weight");
        doubles(cl, p, "temperature", "temperature");
        Path o = io[1];
        return OneStepRecipe.run(cl, out, io[0], o, List.of(new StageEntry("slim", p)), res -> writeReport(res, o, out));
    }

    /** {@code <out>.report/loss-round-N.csv} from the slim stage's distillation rounds. */
    static void writeReport(Pipeline.Result res, Path o, PrintStream out) {
        Path dir = o.toAbsolutePath().normalize().resolveSibling(o.getFileName() + ".report");
        for (JsonNode s : res.provenance().path("stages")) {
            if (!"slim".equals(s.path("stage").asText())) {
                continue;
            }
            for (JsonNode r : s.path("report").path("rounds")) {
                String csv = r.path("distill").path("loss_csv").asText("");
                if (csv.isEmpty()) {
                    continue;
                }
                try {
                    Files.createDirectories(dir);
                    Files.writeString(dir.resolve("loss-round-" + r.path("round").asInt() + ".csv"), csv, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException(dir + ": cannot write the loss log", e);
                }
            }
        }
        if (Files.isDirectory(dir)) {
            out.println("moekit: loss logs in " + dir);
        }
    }
}
