package dev.moekit.prune.sparse;

import java.nio.file.Path;
import java.util.List;

/**
 * What stage 2 did. Nominal sparsity counts zeros over <em>all Linear weights of the decoder layers</em> (attention,
 * dense MLP, router, routed and shared experts, whether in scope or not), the denominator of the reference's
 * {@code check_sparsity}; embeddings, lm_head, norms and biases are excluded. Unstructured zeros do not shrink a dense
 * safetensors file: {@code bytesOut} is the real size, equal to {@code bytesIn}.
 *
 * @param output          written checkpoint
 * @param options         resolved settings
 * @param layers          per-layer results
 * @param linearParams    the denominator: Linear weight parameters of all decoder layers
 * @param zeros           zero weights among them after pruning
 * @param bytesIn         tensor bytes of the input
 * @param bytesOut        tensor bytes of the output (dense storage)
 */
public record SparsityReport(Path output, SparsityOptions options, List<LayerSparsity> layers, long linearParams,
                             long zeros, long bytesIn, long bytesOut) {
    public SparsityReport {
        layers = List.copyOf(layers);
    }

    /** Zeros / all Linear weights of decoder layers. */
    public double nominalSparsity() {
        return linearParams == 0 ? 0 : (double) zeros / linearParams;
    }

    /** Every Linear left dense for lack of calibration tokens, as "layer:key". */
    public List<String> denseForLackOfTokens() {
        return layers.stream().flatMap(l -> l.skipped().stream().map(k -> l.layer() + ":" + k)).toList();
    }
}
