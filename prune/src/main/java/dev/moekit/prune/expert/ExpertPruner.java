package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.Map;

/**
 * Expert pruning of a Hugging Face MoE checkpoint: STUN stage 1 clustering or a named criterion (frequency, weighted
 * frequency, EAN, REAP, random, NAEE), then consistent removal of expert tensors, router rows, router biases and
 * correction biases, with surviving experts renumbered in order; shared experts and dense layers are never touched;
 * config.json gets the new expert count ({@code num_experts_per_tok} unchanged) and the output carries
 * {@value #PROVENANCE} with the kept expert indices per layer, scores and the resolved settings.
 *
 * <pre>{@code
 * var o = ExpertPruneOptions.builder().setPruneRatio(0.25).build();   // STUN, router weights, uniform
 * ExpertPruneReport r = ExpertPruner.run(Checkpoint.open(in), out, o, StatsSource.NONE);
 * }</pre>
 */
public final class ExpertPruner {
    /** File name of the provenance record written into the output. */
    public static final String PROVENANCE = "expert_pruning.json";

    private ExpertPruner() {}

    /** Plans and writes the pruned checkpoint with default writer settings. */
    public static ExpertPruneReport run(Checkpoint in, Path out, ExpertPruneOptions options, StatsSource stats) {
        return run(in, ModelSpec.of(in), out, options, stats, CheckpointWriter.Options.defaults());
    }

    /** Plans and writes the pruned checkpoint. */
    public static ExpertPruneReport run(Checkpoint in, ModelSpec spec, Path out, ExpertPruneOptions options, StatsSource stats,
                                        CheckpointWriter.Options writer) {
        ExpertPruneReport plan = plan(in, spec, options, stats);
        ObjectNode config = ConfigEdit.apply(spec, plan.layers());
        JsonNode provenance = Provenance.of(in, spec, plan, ConfigEdit.expertCountKey(spec, spec.config()));
        long bytes = ExpertRemoval.write(in, spec, plan.layers(), out, config, Map.of(PROVENANCE, provenance), writer);
        return plan.withOutput(out, bytes);
    }

    /** Decides what to keep without writing anything (a dry run; also what {@link #run} writes). */
    public static ExpertPruneReport plan(Checkpoint in, ModelSpec spec, ExpertPruneOptions options, StatsSource stats) {
        return new ExpertPlanner(in, spec, options, stats).plan();
    }
}
