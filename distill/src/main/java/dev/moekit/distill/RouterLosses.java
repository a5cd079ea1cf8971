package dev.moekit.distill;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.ForwardObserver;

/**
 * Collects the router losses of one training forward from the router hook (the arrays carry the graph, so the losses
 * train the routers): per MoE layer the load-balancing loss {@code E * sum_e f_e P_e} (f from the top-k choices, not
 * differentiated; P the mean of the router's probabilities, normalised per token for sigmoid routers) and the z-loss
 * {@code mean_n logsumexp(logits_n)^2}; both averaged over layers. Counts every row (training windows have no padding).
 */
final class RouterLosses implements ForwardObserver {
    private final boolean balance;
    private final boolean z;
    private NDArray balanceSum;
    private NDArray zSum;
    private int layers;

    RouterLosses(boolean balance, boolean z) {
        this.balance = balance;
        this.z = z;
    }

    boolean active() {
        return balance || z;
    }

    @Override
    public boolean observes(int layer) {
        return active();
    }

    @Override
    public void router(int layer, RouterOutput r) {
        layers++;
        if (balance) {
            NDArray scores = r.scores();                                                     // [N, E]
            long experts = scores.getShape().get(1);
            long n = scores.getShape().get(0);
            NDArray p = scores.div(scores.sum(new int[] {-1}, true)).mean(new int[] {0});     // [E]
            NDArray f = r.topIndices().oneHot((int) experts).sum(new int[] {0, 1}).div((float) n);   // [E], no gradient
            NDArray term = Scalars.times(p.mul(f).sum(), experts);
            balanceSum = balanceSum == null ? term : balanceSum.add(term);
        }
        if (z) {
            NDArray logits = r.logits();                                                     // [N, E] fp32
            NDArray max = logits.max(new int[] {-1}, true);
            NDArray lse = logits.sub(max).exp().sum(new int[] {-1}).log().add(max.squeeze(-1)); // [N]
            NDArray term = lse.square().mean();
            zSum = zSum == null ? term : zSum.add(term);
        }
    }

    /** The mean load-balancing loss over MoE layers, or null if none was collected. */
    NDArray balance() {
        return balanceSum == null ? null : Scalars.over(balanceSum, layers);
    }

    /** The mean z-loss over MoE layers, or null. */
    NDArray zLoss() {
        return zSum == null ? null : Scalars.over(zSum, layers);
    }
}
