package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;

/**
 * What expert pruning did.
 *
 * @param output         the written checkpoint folder (null for a plan only)
 * @param method         the expert pruner's registered name
 * @param methodParams   its resolved parameters (snake_case keys)
 * @param options        the resolved budget
 * @param family         the model family
 * @param configKey      the config key holding the expert count
 * @param layers         per-MoE-layer decisions
 * @param expertsBefore  routed experts over all MoE layers before
 * @param expertsAfter   and after
 * @param targetExperts  the budget asked for (total kept)
 * @param exact          whether the budget was met exactly
 * @param uniform        whether every MoE layer keeps the same count (loadable by stock HF classes)
 * @param bytesIn        tensor bytes of the input
 * @param bytesOut       tensor bytes of the output
 * @param notes          facts a user must know (non-uniform config, clamped layers, ...)
 * @param warnings       the method's warnings about the output's quality (e.g. STUN on nearly orthogonal experts)
 */
public record ExpertPruneReport(Path output, String method, ObjectNode methodParams, ExpertPruneOptions options, String family,
                                String configKey, List<LayerResult> layers, int expertsBefore, int expertsAfter,
                                int targetExperts, boolean exact, boolean uniform, long bytesIn, long bytesOut,
                                List<String> notes, List<String> warnings) {
    public ExpertPruneReport {
        methodParams = methodParams.deepCopy();
        layers = List.copyOf(layers);
        notes = List.copyOf(notes);
        warnings = List.copyOf(warnings);
    }

    @Override
    public ObjectNode methodParams() {
        return methodParams.deepCopy();
    }

    public ExpertPruneReport withOutput(Path out, long bytes) {
        return new ExpertPruneReport(out, method, methodParams, options, family, configKey, layers, expertsBefore, expertsAfter,
                targetExperts, exact, uniform, bytesIn, bytes, notes, warnings);
    }

    /** The report as JSON for provenance: settings, totals and per layer what was kept and why. */
    public ObjectNode toJson() {
        return Provenance.of(this);
    }
}
