package dev.moekit.prune.sparse;

import java.util.List;

/**
 * What stage 2 did to one decoder layer.
 *
 * @param layer        decoder layer index
 * @param target       the layer's sparsity S_l (OWL) or S
 * @param outlierRatio OWL's LOD in percent (NaN for Wanda)
 * @param params       Linear weight parameters of the layer (all Linears, pruned or not)
 * @param zeros        zero weights among them after pruning
 * @param skipped      Linears left dense for lack of calibration tokens (policy SKIP_DENSE)
 * @param magnitude    Linears pruned by magnitude for lack of calibration tokens (policy MAGNITUDE)
 */
public record LayerSparsity(int layer, double target, double outlierRatio, long params, long zeros, List<LinearKey> skipped,
                            List<LinearKey> magnitude) {
    public LayerSparsity {
        skipped = List.copyOf(skipped);
        magnitude = List.copyOf(magnitude);
    }

    public double sparsity() {
        return params == 0 ? 0 : (double) zeros / params;
    }
}
