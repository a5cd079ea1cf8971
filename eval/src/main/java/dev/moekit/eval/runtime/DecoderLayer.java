package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;

/**
 * One pre-norm decoder layer: {@code h = h + Attn(Norm(h)); h = h + FFN(Norm(h))}, FFN dense or MoE, Norm RMSNorm
 * or (Phi-3.5-MoE) LayerNorm; BAM's parallel block {@code h + Attn(Norm1(h)) + FFN(Norm2(h))} when the spec says so.
 */
final class DecoderLayer {
    private DecoderLayer() {}

    /** h {@code [B, T, hidden]} to {@code [B, T, hidden]}. */
    static NDArray forward(ModelSpec spec, LayerWeights w, NDArray h, StepContext ctx, ForwardObserver obs) {
        long[] shape = h.getShape().getShape();
        int layer = w.layer();
        boolean observed = obs.observes(layer);
        if (observed) {
            obs.layerInput(layer, h.reshape(-1, shape[2]));                         // [N, hidden]
        }
        boolean timed = BlockTimes.enabled();
        if (timed) {
            BlockTimes.begin(h);
        }
        NDArray x = Ops.norm(spec, h, w.get(Role.INPUT_NORM), w.get(Role.INPUT_NORM_BIAS));  // [B, T, hidden]
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.NORM, x);
        }
        NDArray input = h;
        h = h.add(ctx.extension().attention(w, x, Attention.forward(spec, w, x, ctx, obs)));  // [B, T, hidden]
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.ATTENTION, h);
        }
        // parallel block (BAM option): the MLP reads the layer input, not the attention's output
        x = Ops.norm(spec, spec.parallelAttention() ? input : h, w.get(Role.POST_ATTN_NORM), w.get(Role.POST_ATTN_NORM_BIAS))
                .reshape(-1, shape[2]);                                             // [N, hidden]
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.NORM, x);
        }
        NDArray out = h.add(FeedForward.forward(spec, w, x, ctx, obs).reshape(shape));  // [B, T, hidden]
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.EXPERTS, out);     // the router's share was charged to ROUTER
        }
        if (observed) {
            obs.layerOutput(layer, out.reshape(-1, shape[2]));
        }
        return out;
    }
}
