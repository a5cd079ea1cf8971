package dev.moekit.recipes.results;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.calib.RuntimeSequentialCalibration;
import dev.moekit.prune.calib.RuntimeStats;
import dev.moekit.prune.expert.ExpertMethod;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.sparse.SparsityOptions;
import dev.moekit.prune.sparse.SparsityReport;
import dev.moekit.prune.sparse.UnstructuredPruner;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ParamCount;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.time.Instant;
import java.util.EnumSet;
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
    private static final List<ExpertMethod> METHODS = List.of(ExpertMethod.STUN, ExpertMethod.FREQUENCY, ExpertMethod.WEIGHTED_FREQUENCY,
            ExpertMethod.EAN, ExpertMethod.REAP, ExpertMethod.NAEE, ExpertMethod.RANDOM);
    private static final EnumSet<Role.Kind> LINEAR = EnumSet.of(Role.Kind.ATTENTION, Role.Kind.DENSE_MLP, Role.Kind.ROUTER,
            Role.Kind.ROUTED_EXPERT, Role.Kind.SHARED_EXPERT);

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
                .append("same number of experts removed in every layer, loadable by stock transformers). STUN uses router-weight ")
                .append("distances (no calibration) and keeps the member nearest each cluster's mean; STUN+OWL removes 25% of the ")
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
        Path orig = setup.original();
        EvalOptions ev = setup.eval();
        CalibrationOptions cal = setup.calibration();
        StatsSource stats;
        try (CausalLm model = CausalLm.open(orig, RuntimeOptions.cpu())) {
            List<TokenBatch> batches = Calibration.batches(orig, cal, 8);
            stats = RuntimeStats.collect(model, batches, cal, 2048, Progress.NONE).stats();
        }
        for (double ratio : new double[] {0.25, 0.5}) {
            for (ExpertMethod method : METHODS) {
                String setting = String.format(Locale.ROOT, "%s, %d%% experts removed", method.key(), Math.round(ratio * 100));
                Path out = work.resolve(method.key() + "-" + Math.round(ratio * 100));
                try (Checkpoint in = Checkpoint.open(orig)) {
                    ExpertPruner.run(in, out, ExpertPruneOptions.builder().optMethod(method).setPruneRatio(ratio).build(), stats);
                } catch (IllegalArgumentException e) {
                    table.add(name, setting, null, "not run: " + e.getMessage().replace('|', '/'), 0);
                    continue;
                }
                table.add(name, setting, Evaluator.evaluate(out, ev, Progress.NONE), "", ModelSetup.bytes(out));
                System.err.println(name + ": " + setting + " done");
            }
        }
        for (double total : new double[] {0.4, 0.65}) {
            Path owl = work.resolve("owl-" + Math.round(total * 100));
            SparsityReport r = sparsify(orig, owl, total, cal);
            table.add(name, String.format(Locale.ROOT, "OWL alone, %d%% total sparsity", Math.round(total * 100)),
                    Evaluator.evaluate(owl, ev, Progress.NONE), String.format(Locale.ROOT, "nominal %.1f%%", 100 * r.nominalSparsity()), ModelSetup.bytes(owl));
            Path stun = work.resolve("stun-25");
            Path both = work.resolve("stun-owl-" + Math.round(total * 100));
            double s = (total * linear(orig) - (linear(orig) - linear(stun))) / linear(stun);
            SparsityReport r2 = sparsify(stun, both, s, cal);
            table.add(name, String.format(Locale.ROOT, "STUN 25%% experts + OWL, %d%% total sparsity", Math.round(total * 100)),
                    Evaluator.evaluate(both, ev, Progress.NONE),
                    String.format(Locale.ROOT, "OWL at %.1f%% of the rest (nominal %.1f%%)", 100 * s, 100 * r2.nominalSparsity()), ModelSetup.bytes(both));
            System.err.println(name + ": OWL " + total + " done");
        }
    }

    private static SparsityReport sparsify(Path in, Path out, double s, CalibrationOptions cal) {
        try (CausalLm model = CausalLm.open(in, RuntimeOptions.cpu()); Checkpoint c = Checkpoint.open(in)) {
            List<TokenBatch> batches = Calibration.batches(in, cal, 8);
            return UnstructuredPruner.run(c, ModelSpec.of(c), out, SparsityOptions.owl(s), new RuntimeSequentialCalibration(model, batches),
                    CheckpointWriter.Options.defaults());
        }
    }

    private static long linear(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            ParamCount pc = ParamCount.of(c, ModelSpec.of(c));
            return LINEAR.stream().mapToLong(pc::params).sum();
        }
    }
}
