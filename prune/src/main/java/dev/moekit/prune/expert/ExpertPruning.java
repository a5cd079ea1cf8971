package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.expert.write.ConfigEdit;
import dev.moekit.prune.expert.write.ExpertRemoval;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Expert pruning of a Hugging Face MoE checkpoint: a registered {@link ExpertPruner} (STUN stage 1 clustering or a
 * criterion: frequency, weighted frequency, EAN, REAP, random, NAEE) selects, then removal keeps expert tensors, router
 * rows, router biases and correction biases in step, with surviving experts renumbered in order; shared experts and
 * dense layers are never touched; config.json gets the new expert count ({@code num_experts_per_tok} unchanged). What
 * was kept and why is the returned report ({@link ExpertPruneReport#toJson()}); nothing else is written beside the
 * checkpoint.
 *
 * <pre>{@code
 * var stun = BoundPruner.of("stun", null);                              // expert usage from the statistics
 * ExpertPruneReport r = ExpertPruning.run(Checkpoint.open(in), out, stun, ExpertPruneOptions.ratio(0.25), stats);
 * }</pre>
 */
public final class ExpertPruning {
    private ExpertPruning() {}

    /** Plans and writes the pruned checkpoint with default writer settings. */
    public static ExpertPruneReport run(Checkpoint in, Path out, BoundPruner<?> method, ExpertPruneOptions options, StatsSource stats) {
        return run(in, ModelSpec.of(in), out, method, options, stats, CheckpointWriter.Options.defaults());
    }

    /** Plans and writes the pruned checkpoint. */
    public static ExpertPruneReport run(Checkpoint in, ModelSpec spec, Path out, BoundPruner<?> method, ExpertPruneOptions options,
                                        StatsSource stats, CheckpointWriter.Options writer) {
        ExpertPruneReport plan = plan(in, spec, method, options, stats);
        ObjectNode config = ConfigEdit.apply(spec, plan.layers());
        long bytes = ExpertRemoval.write(in, spec, plan.layers(), out, config, writer);
        return plan.withOutput(out, bytes);
    }

    /** Decides what to keep without writing anything (a dry run; also what {@link #run} writes). */
    public static ExpertPruneReport plan(Checkpoint in, ModelSpec spec, BoundPruner<?> method, ExpertPruneOptions options, StatsSource stats) {
        return new ExpertPlanner(in, spec, method, options, stats).plan();
    }

    /**
     * What the structure alone says about the output (no weights read): the kept count per MoE layer, refusing what
     * cannot be done (fewer than top-k experts, a global budget below the per-layer limits, a method that cannot
     * allocate globally).
     *
     * @param where names the checkpoint in errors
     */
    public static Counts counts(String where, ModelSpec spec, BoundPruner<?> method, ExpertPruneOptions options) {
        Budget b = new Budget(where, spec, options, method.pruner());
        Map<Integer, Integer> kept = b.plannedCounts();
        return new Counts(kept, b.before, b.target, b.global, b.notes());
    }

    /**
     * The planned kept counts.
     *
     * @param keptByLayer kept experts per MoE layer index, in layer order
     * @param before      routed experts over all MoE layers
     * @param target      kept experts asked for in total
     * @param estimated   whether the real per-layer counts depend on the weights (global allocation)
     * @param notes       clamps by the top-k guard
     */
    public record Counts(Map<Integer, Integer> keptByLayer, int before, int target, boolean estimated, List<String> notes) {
        public Counts {
            keptByLayer = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(keptByLayer));
            notes = List.copyOf(notes);
        }
    }
}
