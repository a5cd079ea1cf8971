package dev.moekit.distill;

/**
 * The training objective: {@code kd * KD + ce * CE + balance * LB + zLoss * Z}.
 * <ul>
 *   <li>KD: {@code T^2 * KL(p_T || q_S)} per predicting position, both restricted to the teacher's top-{@code topK}
 *       tokens with temperature {@code T}: {@code p_T = softmax(t_topk / T)}; with {@link KdSupport#TOPK}
 *       {@code log q_S = log_softmax(s_topk / T)} (the student renormalised over the same tokens, as SlimMoE's
 *       top-8 KD), with {@link KdSupport#FULL} the student's full-vocabulary {@code log_softmax(s / T)} at those
 *       tokens (mass outside the top-k is pushed down too).</li>
 *   <li>CE: next-token cross-entropy on the training text.</li>
 *   <li>LB: the Switch/Mixtral load-balancing loss {@code E * sum_e f_e P_e} per MoE layer (f: fraction of tokens
 *       routed to e over the top-k choices, P: mean router probability), averaged over layers.</li>
 *   <li>Z: the ST-MoE router z-loss {@code mean (logsumexp router_logits)^2}, averaged over MoE layers.</li>
 * </ul>
 * Positions are those that predict a next token ({@code T-1} per window).
 */
public record Losses(double kd, double ce, int topK, double temperature, KdSupport support, double balance, double zLoss) {
    /** Where the student's distribution is normalised for KD. */
    public enum KdSupport { TOPK, FULL }

    public Losses {
        if (kd < 0 || ce < 0 || balance < 0 || zLoss < 0) {
            throw new IllegalArgumentException("loss weights must be >= 0, got kd " + kd + ", ce " + ce + ", balance " + balance + ", z_loss " + zLoss);
        }
        if (kd == 0 && ce == 0) {
            throw new IllegalArgumentException("kd_weight and ce_weight are both 0: nothing to learn from");
        }
        if (topK < 1) {
            throw new IllegalArgumentException("top_k must be >= 1, got " + topK);
        }
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        support = support == null ? KdSupport.TOPK : support;
    }

    /** SlimMoE's recipe: KD on the teacher's top-8 logits at temperature 1, no CE, no router losses. */
    public static Losses slimMoe() {
        return new Losses(1, 0, 8, 1, KdSupport.TOPK, 0, 0);
    }

    /** Plain language-model fine-tuning (no teacher). */
    public static Losses languageModel() {
        return new Losses(0, 1, 8, 1, KdSupport.TOPK, 0, 0);
    }

    public Losses withRouter(double balanceWeight, double zLossWeight) {
        return new Losses(kd, ce, topK, temperature, support, balanceWeight, zLossWeight);
    }

    public Losses withCe(double weight) {
        return new Losses(kd, weight, topK, temperature, support, balance, zLoss);
    }

    public Losses withTopK(int k, double t, KdSupport s) {
        return new Losses(kd, ce, k, t, s, balance, zLoss);
    }
}
