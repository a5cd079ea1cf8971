package dev.moekit.pipeline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.BoundStage;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A recipe validated and planned: every path resolved, every parameter bound, every stage planned on the planned
 * output of the one before, the data files found and hashed. Nothing has been written. {@link Pipeline#run} executes it.
 *
 * @param recipe      the recipe
 * @param input       the input checkpoint (real path)
 * @param output      the output folder (absolute)
 * @param stages      bound stages, in order
 * @param extra       each stage's further inputs, resolved
 * @param plans       each stage's plan (a dry-run chain: later stages planned on estimated layouts)
 * @param calibration calibration files (resolved only when a stage calibrates, else empty)
 * @param evalData    evaluation files (empty without eval)
 */
public record Prepared(Recipe recipe, Path input, Path output, List<BoundStage<?>> stages, List<List<Path>> extra, List<Plan> plans,
                       List<DataFiles.DataFile> calibration, List<DataFiles.DataFile> evalData) {
    public Prepared {
        stages = List.copyOf(stages);
        extra = List.copyOf(extra);
        plans = List.copyOf(plans);
        calibration = List.copyOf(calibration);
        evalData = List.copyOf(evalData);
    }

    /** The plan as JSON ({@code moekit run --dry-run --json}). */
    public ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("input", input.toString());
        o.put("output", output.toString());
        var st = o.putArray("stages");
        for (int i = 0; i < stages.size(); i++) {
            ObjectNode s = plans.get(i).toJson();
            s.set("params", stages.get(i).resolved());
            extra.get(i).forEach(p -> s.withArray("extra_inputs").add(p.toString()));
            st.add(s);
        }
        o.set("calibration", DataFiles.toJson(calibration));
        o.set("eval_data", DataFiles.toJson(evalData));
        return o;
    }

    /** The plan for people: stages, units, bytes in and out, which calibrate. */
    public String describe() {
        StringBuilder b = new StringBuilder();
        b.append("input  ").append(input).append('\n');
        b.append("output ").append(output).append(recipe.replace() ? " (replaced if present)" : "").append('\n');
        for (int i = 0; i < stages.size(); i++) {
            Plan p = plans.get(i);
            b.append(String.format(Locale.ROOT, "stage %d/%d %s%s: %s in, %s out%s, %d unit(s)%s%n", i + 1, stages.size(), p.stage(),
                    p.calibrates() ? " (calibrates)" : "", bytes(p.bytesIn()), bytes(p.bytesOut()), p.output().exact() ? "" : " (estimated)",
                    p.units().size(), p.details().isEmpty() ? "" : "  " + p.details()));
            p.units().forEach(u -> b.append(String.format(Locale.ROOT, "    unit %-12s %s%s%n", u.id(), u.description(),
                    u.after().isEmpty() ? "" : " (after " + String.join(", ", u.after()) + ")")));
            p.notes().forEach(n -> b.append("    note: ").append(n).append('\n'));
        }
        if (!calibration.isEmpty()) {
            b.append(String.format(Locale.ROOT, "calibration: %d file(s), %d windows of %d tokens each%n", calibration.size(),
                    recipe.calibration().windows(), recipe.calibration().window()));
        }
        if (recipe.eval() != null) {
            b.append(String.format(Locale.ROOT, "eval: %d file(s), %d windows of %d tokens%s%n", evalData.size(), recipe.eval().windows(),
                    recipe.eval().window(), recipe.eval().reference() ? ", against the input" : ""));
        }
        return b.toString();
    }

    static String bytes(long n) {
        if (n >= 1L << 30) {
            return String.format(Locale.ROOT, "%.2f GB", n / 1e9);
        }
        return n >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", n / 1e6) : String.format(Locale.ROOT, "%.1f kB", n / 1e3);
    }
}
