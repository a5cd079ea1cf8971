package dev.moekit.eval;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;

/** Counts, per MoE layer, how often each expert is chosen by real (non-padding) tokens. */
final class RoutingCounter implements ForwardObserver {
    private final ModelSpec spec;
    private final long[][] counts;
    private final long[] tokens;
    private NDArray mask;   // [N] of the current step

    RoutingCounter(ModelSpec spec) {
        this.spec = spec;
        this.counts = new long[spec.layers()][];
        this.tokens = new long[spec.layers()];
        for (int l = 0; l < spec.layers(); l++) {
            counts[l] = new long[spec.layer(l).experts()];
        }
    }

    @Override
    public boolean observes(int layer) {
        return spec.layer(layer).moe();
    }

    @Override
    public void tokenMask(NDArray tokenMask) {
        this.mask = tokenMask;
    }

    @Override
    public void router(int layer, RouterOutput r) {
        int experts = counts[layer].length;
        NDArray real = mask.toType(ai.djl.ndarray.types.DataType.FLOAT32, false);                   // [N]
        float[] c = r.topIndices().oneHot(experts).sum(new int[] {1}).mul(real.expandDims(1))
                .sum(new int[] {0}).toFloatArray();                                                   // [E]
        for (int e = 0; e < experts; e++) {
            counts[layer][e] += Math.round(c[e]);
        }
        tokens[layer] += Math.round(real.sum().getFloat());
    }

    List<LayerRouting> result() {
        List<LayerRouting> out = new ArrayList<>();
        for (int l = 0; l < spec.layers(); l++) {
            LayerSpec ls = spec.layer(l);
            if (ls.moe()) {
                out.add(new LayerRouting(l, tokens[l], counts[l]));
            }
        }
        return out;
    }
}
