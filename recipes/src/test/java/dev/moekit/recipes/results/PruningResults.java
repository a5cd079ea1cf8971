package dev.moekit.recipes.results;

import dev.moekit.pipeline.Pipeline;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Produces {@code docs/results/pruning.md}: every expert-pruning criterion at 25% and 50% of experts removed, and
 * STUN+OWL against OWL alone at 40% and 65% total sparsity, on the reference MoE models, calibrated on the valid splits
 * and evaluated on the test splits against the unpruned model.
 *
 * <p>{@code PruningResults <shared dir> <out.md> [evalWindows=16] [calibrationWindows=16] [models...]}
 */
public final class PruningResults {
    private static final List<String> METHODS = List.of("stun", "frequency", "weighted_frequency", "ean", "reap", "naee", "random");

    private PruningResults() {}

    public static void main(String[] args) throws Exception {
        RunArgs a = RunArgs.parse(args, 16, 16, "moekit-pruning-results");
        int evalWindows = a.evalWindows();
        int calWindows = a.calWindows();
        StringBuilder md = new StringBuilder();
        md.append("# Expert pruning results\n\n");
        md.append("Produced by `scripts/results-pruning.sh` (").append(Instant.now().toString(), 0, 10).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores). ");
        md.append("Calibration: ").append(calWindows).append(" windows of 256 tokens from each `*.valid.txt` split. ");
        md.append("Evaluation: the first ").append(evalWindows).append(" windows of 256 tokens of each `*.test.txt` split (the golden ")
                .append("protocol uses 32), perplexity per domain, KL divergence of the pruned model's next-token distribution from ")
                .append("the unpruned model's (mean over all scored positions) and top-1 agreement. Expert pruning is uniform (the ")
                .append("same number of experts removed in every layer, loadable by stock transformers). STUN runs with its defaults ")
                .append("(docs/pruning.md): router-weight distances weighted by calibrated usage, each cluster replaced by the member ")
                .append("nearest its usage-weighted centroid; STUN+OWL removes 25% of the ")
                .append("experts first and OWL prunes the rest to the total sparsity (decoder Linear weights, removed experts ")
                .append("counted as pruned).\n\n");
        ResultTable table = new ResultTable(a.outMd(), md.toString(), a.models());
        for (String m : a.models()) {
            runModel(a.setup(m), table);
        }
        table.write();
    }

    private static void runModel(ModelSetup setup, ResultTable table) throws Exception {
        String name = setup.name();
        Path work = setup.work();
        setup.baseline(table, "unpruned");
        for (double ratio : new double[] {0.25, 0.5}) {
            for (String method : METHODS) {
                String setting = String.format(Locale.ROOT, "%s, %d%% experts removed", method, Math.round(ratio * 100));
                Path out = work.resolve(method + "-" + Math.round(ratio * 100));
                Pipeline.Result r;
                try {
                    r = RecipeRun.run(setup, out, RecipeRun.stages("prune", RecipeRun.params("method", method, "experts", ratio)));
                } catch (IllegalArgumentException e) {
                    table.add(name, setting, null, "not run: " + e.getMessage().replace('|', '/'), 0);
                    continue;
                }
                table.add(name, setting, r.eval(), "", ModelSetup.bytes(out));
                System.err.println(name + ": " + setting + " done");
            }
        }
        for (double total : new double[] {0.4, 0.65}) {
            Path owl = work.resolve("owl-" + Math.round(total * 100));
            Pipeline.Result r = RecipeRun.run(setup, owl, RecipeRun.stages("sparsify", RecipeRun.params("method", "owl", "total_sparsity", total)));
            table.add(name, String.format(Locale.ROOT, "OWL alone, %d%% total sparsity", Math.round(total * 100)), r.eval(),
                    String.format(Locale.ROOT, "nominal %.1f%%", 100 * RecipeRun.report(r, 0).path("nominal_sparsity").asDouble()), ModelSetup.bytes(owl));
            Path both = work.resolve("stun-owl-" + Math.round(total * 100));
            Pipeline.Result r2 = RecipeRun.run(setup, both, RecipeRun.stages("prune", RecipeRun.params("method", "stun", "experts", 0.25),
                    "sparsify", RecipeRun.params("method", "owl", "total_sparsity", total)));
            table.add(name, String.format(Locale.ROOT, "STUN 25%% experts + OWL, %d%% total sparsity", Math.round(total * 100)), r2.eval(),
                    String.format(Locale.ROOT, "OWL at %.1f%% of the rest (nominal %.1f%%)", 100 * RecipeRun.report(r2, 1).path("stage_sparsity_target").asDouble(),
                            100 * RecipeRun.report(r2, 1).path("nominal_sparsity").asDouble()), ModelSetup.bytes(both));
            System.err.println(name + ": OWL " + total + " done");
        }
    }
}
