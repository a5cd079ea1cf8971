package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;

/**
 * Multi-head causal self-attention with grouped key/value heads (GQA), optional q/k/v/o biases (Qwen2), q/k RMSNorm
 * (Qwen3-MoE per head over {@code head_dim}; OLMoE over the whole projection, told apart by the norm weight's length)
 * and rotary position embeddings: {@code softmax(q k^T / sqrt(d) + mask) v}, softmax in fp32. BAM layers mix several
 * attention experts softly ({@link #mixture}).
 */
final class Attention {
    private Attention() {}

    /** x {@code [B, T, hidden]} (already normed) to {@code [B, T, hidden]}. */
    static NDArray forward(ModelSpec spec, LayerWeights w, NDArray x, StepContext ctx, ForwardObserver obs) {
        if (w.attentionExpertCount() > 0) {
            return mixture(spec, w, x, ctx, obs);
        }
        ctx.linearInput(obs, w.layer(), x, Role.Q, Role.K, Role.V);
        return attend(spec, x, w.get(Role.Q), w.get(Role.K), w.get(Role.V), w.get(Role.O), w.get(Role.Q_BIAS),
                w.get(Role.K_BIAS), w.get(Role.V_BIAS), w.get(Role.O_BIAS), w.get(Role.Q_NORM), w.get(Role.K_NORM), ctx,
                obs, w.layer(), true);
    }

    /**
     * BAM's soft mixture of attention: {@code sum_a softmax(x W_r)_a * Attn_a(x)}, every token through every attention
     * expert, the router's softmax in fp32. Expert {@code a} has its own q and o and, Expert-KV, its own k and v
     * (Shared-KV: the layer's k and v).
     */
    private static NDArray mixture(ModelSpec spec, LayerWeights w, NDArray x, StepContext ctx, ForwardObserver obs) {
        int experts = w.attentionExpertCount();
        NDArray logits = Ops.cast(Ops.linear(x, w.get(Role.ATTN_ROUTER), null), DataType.FLOAT32);   // [B, T, A]
        NDArray probs = Ops.cast(logits.softmax(-1), x.getDataType());
        NDArray out = null;
        for (int a = 0; a < experts; a++) {
            NDArray y = attend(spec, x, w.attentionExpert(Role.Q, a), w.attentionExpert(Role.K, a), w.attentionExpert(Role.V, a),
                    w.attentionExpert(Role.O, a), null, null, null, null, null, null, ctx, obs, w.layer(), false);
            NDArray part = y.mul(probs.get(":, :, " + a + ":" + (a + 1)));                           // [B, T, hidden]
            out = out == null ? part : out.add(part);
        }
        return out;
    }

    /** One attention with the given projections; {@code observed}: report the linear inputs (standard layers). */
    private static NDArray attend(ModelSpec spec, NDArray x, NDArray wq, NDArray wk, NDArray wv, NDArray wo, NDArray qb,
                                  NDArray kb, NDArray vb, NDArray ob, NDArray qn, NDArray kn, StepContext ctx,
                                  ForwardObserver obs, int layer, boolean observed) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int d = spec.headDim();

        NDArray q = Ops.linear(x, wq, qb);                                  // [B, T, heads*d]
        NDArray k = Ops.linear(x, wk, kb);                                  // [B, T, kv*d]
        NDArray v = Ops.linear(x, wv, vb);                                  // [B, T, kv*d]
        q = qkNorm(spec, qn, q, d).reshape(b, t, heads, d).transpose(0, 2, 1, 3);   // [B, h, T, d]
        k = qkNorm(spec, kn, k, d).reshape(b, t, kvHeads, d).transpose(0, 2, 1, 3); // [B, kv, T, d]
        v = v.reshape(b, t, kvHeads, d).transpose(0, 2, 1, 3);                       // [B, kv, T, d]

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
        if (observed) {
            ctx.linearInput(obs, layer, context, Role.O);
        }
        return Ops.linear(context, wo, ob);
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
