package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;

/**
 * Multi-head causal self-attention with grouped key/value heads (GQA), optional q/k/v/o biases (Qwen2), q/k RMSNorm
 * (Qwen3-MoE per head over {@code head_dim}; OLMoE over the whole projection, told apart by the norm weight's length)
 * and rotary position embeddings: {@code softmax(q k^T / sqrt(d) + mask) v}, softmax in fp32.
 */
final class Attention {
    private Attention() {}

    /** x {@code [B, T, hidden]} (already normed) to {@code [B, T, hidden]}. */
    static NDArray forward(ModelSpec spec, LayerWeights w, NDArray x, StepContext ctx, ForwardObserver obs) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int d = spec.headDim();
        int layer = w.layer();
        ctx.linearInput(obs, layer, x, Role.Q, Role.K, Role.V);

        NDArray q = Ops.linear(x, w.get(Role.Q), w.get(Role.Q_BIAS));        // [B, T, heads*d]
        NDArray k = Ops.linear(x, w.get(Role.K), w.get(Role.K_BIAS));        // [B, T, kv*d]
        NDArray v = Ops.linear(x, w.get(Role.V), w.get(Role.V_BIAS));        // [B, T, kv*d]
        q = qkNorm(spec, w.get(Role.Q_NORM), q, d).reshape(b, t, heads, d).transpose(0, 2, 1, 3);   // [B, h, T, d]
        k = qkNorm(spec, w.get(Role.K_NORM), k, d).reshape(b, t, kvHeads, d).transpose(0, 2, 1, 3); // [B, kv, T, d]
        v = v.reshape(b, t, kvHeads, d).transpose(0, 2, 1, 3);                                       // [B, kv, T, d]

        q = Ops.rope(q, ctx.cos(), ctx.sin());
        k = Ops.rope(k, ctx.cos(), ctx.sin());
        // GQA without repeating k/v: the query heads of one kv head are stacked along the query axis, so each kv
        // head is one batched matmul ([rep*T, d] x [d, T]) and k/v are never copied per query head
        int rep = heads / kvHeads;
        NDArray qg = rep == 1 ? q : q.reshape(b, kvHeads, rep * t, d);                              // [B, kv, rep*T, d]
        NDArray raw = qg.matMul(k.transpose(0, 1, 3, 2)).reshape(b, heads, t, t);                  // [B, h, T, T]
        NDArray scores = Ops.times(Ops.cast(raw, DataType.FLOAT32), 1.0 / Math.sqrt(d)).add(ctx.mask()); // fp32
        NDArray probs = Ops.cast(scores.softmax(-1), x.getDataType());
        NDArray pg = rep == 1 ? probs : probs.reshape(b, kvHeads, rep * t, t);
        NDArray context = pg.matMul(v).reshape(b, heads, t, d).transpose(0, 2, 1, 3)
                .reshape(b, t, (long) heads * d);                                                   // [B, T, h*d]
        ctx.linearInput(obs, layer, context, Role.O);
        return Ops.linear(context, w.get(Role.O), w.get(Role.O_BIAS));
    }

    /** Applies a q or k RMSNorm if the layer has one: per head when its weight is {@code [d]}, else over all heads. */
    private static NDArray qkNorm(ModelSpec spec, NDArray norm, NDArray x, int d) {
        if (norm == null) {
            return x;
        }
        if (norm.getShape().get(0) == d) {
            long[] s = x.getShape().getShape();
            return Ops.rmsNorm(x.reshape(s[0], s[1], s[2] / d, d), norm, spec.normEps()).reshape(s);
        }
        return Ops.rmsNorm(x, norm, spec.normEps());
    }
}
