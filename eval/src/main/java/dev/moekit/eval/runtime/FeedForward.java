package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;

/**
 * The MLP half of a decoder layer: a dense SwiGLU MLP, or a mixture of experts
 * {@code y = sum_{e in topk(x)} g_e(x) * E_e(x) [+ sigmoid(x w_s) * S(x)]} with each expert a SwiGLU MLP
 * {@code E(x) = W_down (silu(W_gate x) * W_up x)}. Tokens are dispatched by sorting the (token, choice) pairs by
 * expert, so each expert runs one matmul on a contiguous slice, and gathered back with the inverse permutation.
 */
final class FeedForward {
    private FeedForward() {}

    /** x {@code [N, hidden]} (already normed) to {@code [N, hidden]}. */
    static NDArray forward(ModelSpec spec, LayerWeights w, NDArray x, StepContext ctx, ForwardObserver obs) {
        LayerSpec ls = w.spec();
        int layer = w.layer();
        if (!ls.moe()) {
            return ctx.extension().feedForward(w, x, null, swiglu(x, w.get(Role.MLP_GATE), w.get(Role.MLP_UP),
                    w.get(Role.MLP_DOWN), ctx, obs, layer, -1, Role.MLP_GATE, Role.MLP_UP, Role.MLP_DOWN));
        }
        ctx.linearInput(obs, layer, x, Role.ROUTER);
        Router.Decision r = Router.route(spec.routing(), w, x, ls.topK());
        if (BlockTimes.enabled()) {
            BlockTimes.lap(BlockTimes.Block.ROUTER, r.weights());
        }
        boolean observed = obs.observes(layer);
        ForwardObserver.RouterOutput routing = new ForwardObserver.RouterOutput(r.logits(), r.scores(), r.indices(),
                r.weights());
        if (observed) {
            obs.router(layer, routing);
        }
        NDArray out = w.compressed().enabled() ? compressedExperts(w, x, r, ctx, obs)
                : observed && obs.allExperts() ? allExperts(w, x, r, ctx, obs)
                : routedExperts(w, x, r.indices(), r.weights(), null, ctx, obs);
        if (w.get(Role.SHARED_UP) != null) {
            NDArray shared = swiglu(x, w.get(Role.SHARED_GATE), w.get(Role.SHARED_UP), w.get(Role.SHARED_DOWN), ctx,
                    obs, layer, -1, Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN);      // [N, hidden]
            NDArray gate = w.get(Role.SHARED_EXPERT_GATE);
            if (gate != null) {
                shared = shared.mul(Activation.sigmoid(Ops.linear(x, gate, null)));          // [N, 1] broadcast
            }
            out = out.add(shared);
        }
        return ctx.extension().feedForward(w, x, routing, out);
    }

    /**
     * Compressed experts ({@link dev.moekit.toolkit.model.CompressedExperts}): of the router's top-k (best first)
     * the first {@code m = k - n_ce} run with their own routing weights (not renormalised); the last {@code n_ce}
     * never run, their weights renormalised over themselves mix their {@code ces} rows into theta {@code [N, W]},
     * which modulates the main experts' inputs and intermediate activation. Without a {@code ces} tensor theta is
     * ones, so the layer is plain top-m.
     */
    private static NDArray compressedExperts(LayerWeights w, NDArray x, Router.Decision r, StepContext ctx,
                                             ForwardObserver obs) {
        int k = (int) r.indices().getShape().get(1);
        int m = w.compressed().main(w.spec());
        NDArray mainIdx = m == k ? r.indices() : r.indices().get(":, :" + m);           // [N, m]
        NDArray mainW = m == k ? r.weights() : r.weights().get(":, :" + m);             // [N, m]
        NDArray ces = w.ces(x.getManager());                                            // [E, W] or null (ones)
        NDArray theta = null;
        if (ces != null && m < k) {
            NDArray auxW = r.weights().get(":, " + m + ":");                            // [N, a] fp32
            NDArray alpha = auxW.div(auxW.sum(new int[] {-1}, true));                   // renormalised over the aux set
            NDArray mix = r.indices().get(":, " + m + ":").oneHot(w.spec().experts(), DataType.FLOAT32)
                    .mul(alpha.expandDims(2)).sum(new int[] {1});                       // [N, E]
            theta = Ops.cast(mix, x.getDataType()).matMul(ces);                         // [N, W]
        }
        return routedExperts(w, x, mainIdx, mainW, theta, ctx, obs);
    }

    /**
     * Sparse dispatch: each expert sees only its routed tokens. {@code theta} {@code [N, W]} (compressed experts) or
     * null: per token, theta_1 = {@code [0, d)} scales the gate input, theta_3 = {@code [d, 2d)} the up input and
     * theta_2 = {@code [2d, 2d + ffn)} the intermediate activation.
     */
    private static NDArray routedExperts(LayerWeights w, NDArray x, NDArray indices, NDArray gates, NDArray theta,
                                         StepContext ctx, ForwardObserver obs) {
        long n = x.getShape().get(0);
        long hidden = x.getShape().get(1);
        int k = (int) indices.getShape().get(1);
        int experts = w.spec().experts();
        NDArray flat = indices.reshape(-1);                                      // [N*k] expert of each pair
        NDArray order = flat.argSort(0, true);                                   // pairs sorted by expert
        NDArray tokenOfPair = x.getManager().arange(0, (int) n, 1, DataType.INT64)
                .reshape(n, 1).broadcast(n, k).reshape(-1);                      // [N*k]
        NDArray tokens = tokenOfPair.get(order);                                 // [N*k] token per sorted pair
        NDArray inputs = x.get(tokens);                                          // [N*k, hidden]
        NDArray thetas = theta == null ? null : theta.get(tokens);               // [N*k, W]
        long[] counts = countsPerExpert(flat, experts);
        NDArray weights = Ops.cast(gates, x.getDataType()).reshape(-1).get(order);   // [N*k]
        if (thetas == null && padded(w, ctx, obs)) {
            NDArray y = paddedExperts(w, inputs, counts);                          // [N*k, hidden] sorted
            return y.mul(weights.expandDims(1)).get(order.argSort(0, true)).reshape(n, k, hidden).sum(new int[] {1});
        }
        NDList slices = new NDList(experts);
        long start = 0;
        for (int e = 0; e < experts; e++) {
            if (counts[e] == 0) {
                continue;
            }
            long end = start + counts[e];
            NDArray in = inputs.get(start + ":" + end);                         // [n_e, hidden]
            NDArray y = thetas == null ? expert(w, e, in, ctx, obs)
                    : compressedExpert(w, e, in, thetas.get(start + ":" + end), ctx, obs);
            if (obs.observes(w.layer())) {
                obs.expert(w.layer(), e, tokens.get(start + ":" + end), in, y);
            }
            slices.add(y);
            start = end;
        }
        NDArray sorted = NDArrays.concat(slices).mul(weights.expandDims(1));    // [N*k, hidden]
        return sorted.get(order.argSort(0, true)).reshape(n, k, hidden).sum(new int[] {1});
    }

    /** The padded dispatch ({@link RuntimeOptions.ExpertDispatch}) applies: asked for, nothing hooks single experts. */
    private static boolean padded(LayerWeights w, StepContext ctx, ForwardObserver obs) {
        return ctx.paddedExperts() && !obs.observes(w.layer()) && !ai.djl.pytorch.jni.JniUtils.isGradMode()
                && w.extraMapIsEmpty() && w.stacked(Role.EXPERT_GATE) != null && w.stacked(Role.EXPERT_UP) != null
                && w.stacked(Role.EXPERT_DOWN) != null;
    }

    /**
     * All experts in three batched matmuls: the sorted pairs are laid out as {@code [E, M, hidden]} with M the
     * largest expert's token count (shorter experts padded with a zero row), run through the stacked expert weights,
     * and read back in sorted order. Fewer, larger kernels than one slice per expert, for the price of computing the
     * padding rows.
     */
    private static NDArray paddedExperts(LayerWeights w, NDArray sortedInputs, long[] counts) {
        int experts = counts.length;
        long pairs = sortedInputs.getShape().get(0);
        long hidden = sortedInputs.getShape().get(1);
        long most = 0;
        for (long c : counts) {
            most = Math.max(most, c);
        }
        // both index maps in one array: [0, E*M) slot -> sorted pair, then sorted pair -> slot. One host-to-device
        // copy (libtorch waits for the stream on a copy from host memory), made before any expert matmul is queued,
        // so the host goes on to the next layer while the device runs the experts
        int slots = (int) (experts * most);
        long[] maps = new long[slots + (int) pairs];
        long start = 0;
        for (int e = 0; e < experts; e++) {
            for (long i = 0; i < most; i++) {
                int slot = (int) (e * most + i);
                if (i < counts[e]) {
                    maps[slot] = start + i;
                    maps[slots + (int) (start + i)] = slot;
                } else {
                    maps[slot] = pairs;                                        // the zero row
                }
            }
            start += counts[e];
        }
        NDManager m = sortedInputs.getManager();
        NDArray both = m.create(maps);
        NDArray slotToPair = both.get("0:" + slots);
        NDArray pairToSlot = both.get(slots + ":");
        NDArray withZero = sortedInputs.concat(m.zeros(new Shape(1, hidden), sortedInputs.getDataType()), 0);
        NDArray in = withZero.get(slotToPair).reshape(experts, most, hidden);                   // [E, M, hidden]
        NDArray g = in.matMul(w.stacked(Role.EXPERT_GATE).transpose(0, 2, 1));                  // [E, M, ffn]
        NDArray u = in.matMul(w.stacked(Role.EXPERT_UP).transpose(0, 2, 1));
        NDArray y = Ops.silu(g).mul(u).matMul(w.stacked(Role.EXPERT_DOWN).transpose(0, 2, 1));  // [E, M, hidden]
        return y.reshape(experts * most, hidden).get(pairToSlot);                              // [N*k, hidden]
    }

    /** Every expert on every token (for statistics); the output mixes them with the real gate weights. */
    private static NDArray allExperts(LayerWeights w, NDArray x, Router.Decision r, StepContext ctx,
                                      ForwardObserver obs) {
        int experts = w.spec().experts();
        NDArray dense = r.indices().oneHot(experts, x.getDataType())
                .mul(Ops.cast(r.weights(), x.getDataType()).expandDims(2)).sum(new int[] {1});  // [N, E]
        NDArray all = x.getManager().arange(0, (int) x.getShape().get(0), 1, DataType.INT64);
        NDArray out = null;
        for (int e = 0; e < experts; e++) {
            NDArray y = expert(w, e, x, ctx, obs);                               // [N, hidden]
            obs.expert(w.layer(), e, all, x, y);
            NDArray part = y.mul(dense.get(":, " + e + ":" + (e + 1)));
            out = out == null ? part : out.add(part);
        }
        return out;
    }

    private static NDArray expert(LayerWeights w, int e, NDArray in, StepContext ctx, ForwardObserver obs) {
        return swiglu(in, w.expert(Role.EXPERT_GATE, e), w.expert(Role.EXPERT_UP, e), w.expert(Role.EXPERT_DOWN, e),
                ctx, obs, w.layer(), e, Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN);
    }

    /** {@code W_down (silu(W_gate (x * theta_1)) * W_up (x * theta_3) * theta_2)}; {@code theta} {@code [n, W]}. */
    private static NDArray compressedExpert(LayerWeights w, int e, NDArray in, NDArray theta, StepContext ctx,
                                            ForwardObserver obs) {
        long d = in.getShape().get(1);
        long f = w.spec().expertFfn();
        NDArray xg = in.mul(theta.get(":, 0:" + d));
        NDArray xu = in.mul(theta.get(":, " + d + ":" + 2 * d));
        int layer = w.layer();
        ctx.linearInput(obs, layer, e, xg, Role.EXPERT_GATE);
        ctx.linearInput(obs, layer, e, xu, Role.EXPERT_UP);
        NDArray h = Ops.silu(Ops.linear(xg, w.expert(Role.EXPERT_GATE, e), null))
                .mul(Ops.linear(xu, w.expert(Role.EXPERT_UP, e), null))
                .mul(theta.get(":, " + 2 * d + ":" + (2 * d + f)));                    // [n, ffn]
        ctx.linearInput(obs, layer, e, h, Role.EXPERT_DOWN);
        return Ops.linear(h, w.expert(Role.EXPERT_DOWN, e), null);
    }

    /** {@code W_down (silu(W_gate x) * W_up x)}, reporting linear inputs to the observer. */
    private static NDArray swiglu(NDArray x, NDArray gate, NDArray up, NDArray down, StepContext ctx,
                                  ForwardObserver obs, int layer, int expert, Role gateRole, Role upRole,
                                  Role downRole) {
        ctx.linearInput(obs, layer, expert, x, gateRole, upRole);
        NDArray h = Ops.silu(Ops.linear(x, gate, null)).mul(Ops.linear(x, up, null));   // [n, ffn]
        ctx.linearInput(obs, layer, expert, h, downRole);
        return Ops.linear(h, down, null);
    }

    /** Tokens routed to each expert (one small device-to-host copy per layer). */
    private static long[] countsPerExpert(NDArray flatIndices, int experts) {
        float[] c = flatIndices.oneHot(experts).sum(new int[] {0}).toFloatArray();
        long[] counts = new long[experts];
        for (int e = 0; e < experts; e++) {
            counts[e] = Math.round(c[e]);
        }
        return counts;
    }
}
