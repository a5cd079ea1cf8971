package dev.moekit.prune.expert;

import java.nio.file.Path;
import java.util.List;

/**
 * What expert pruning did.
 *
 * @param output         the written checkpoint folder (null for a plan only)
 * @param options        the resolved settings
 * @param layers         per-MoE-layer decisions
 * @param expertsBefore  routed experts over all MoE layers before
 * @param expertsAfter   and after
 * @param targetExperts  the budget asked for (total kept)
 * @param exact          whether the budget was met exactly
 * @param uniform        whether every MoE layer keeps the same count (loadable by stock HF classes)
 * @param bytesIn        tensor bytes of the input
 * @param bytesOut       tensor bytes of the output
 * @param notes          warnings and facts a user must know (non-uniform config, clamped layers, ...)
 */
public record ExpertPruneReport(Path output, ExpertPruneOptions options, List<LayerResult> layers, int expertsBefore,
                                int expertsAfter, int targetExperts, boolean exact, boolean uniform, long bytesIn,
                                long bytesOut, List<String> notes) {
    public ExpertPruneReport {
        layers = List.copyOf(layers);
        notes = List.copyOf(notes);
    }

    public ExpertPruneReport withOutput(Path out, long bytes) {
        return new ExpertPruneReport(out, options, layers, expertsBefore, expertsAfter, targetExperts, exact, uniform, bytesIn, bytes, notes);
    }
}
