package dev.moekit.prune.sparse;

/**
 * Settings of stage-2 unstructured pruning (Wanda / OWL, as STUN runs them).
 *
 * @param sparsity          target fraction S of zeros per pruned Linear (OWL: the mean over layers)
 * @param method            WANDA (one S) or OWL (layerwise S_l)
 * @param nmN               N of N:M semi-structured sparsity (0: unstructured)
 * @param nmM               M of N:M (e.g. 2:4)
 * @param owlM              OWL outlier multiple M (README runs: 5)
 * @param owlLambda         OWL spread lambda (0.08)
 * @param includeRouter     prune router (and shared-expert gate) Linears too; the reference does (default true)
 * @param includeAttention  prune attention Linears; the reference does (default true)
 * @param emptyExperts      policy for Linears without calibration tokens (default SKIP_DENSE, as the reference)
 */
public record SparsityOptions(double sparsity, SparsityMethod method, int nmN, int nmM, double owlM, double owlLambda,
                              boolean includeRouter, boolean includeAttention, EmptyExpertPolicy emptyExperts) {
    public SparsityOptions {
        if (method == null || emptyExperts == null) {
            throw new IllegalArgumentException("unstructured pruning: method and emptyExperts are required");
        }
        if (nmN > 0) {
            if (nmM < 1 || nmN > nmM) {
                throw new IllegalArgumentException("unstructured pruning: N:M needs 0 < N <= M, got " + nmN + ":" + nmM);
            }
            if (method == SparsityMethod.OWL) {
                throw new IllegalArgumentException("unstructured pruning: OWL's layerwise ratios do not apply to N:M sparsity");
            }
        } else if (!(sparsity > 0 && sparsity < 1)) {
            throw new IllegalArgumentException("unstructured pruning: sparsity must be in (0, 1), got " + sparsity);
        }
        if (method == SparsityMethod.OWL && (owlM <= 0 || owlLambda < 0 || sparsity - owlLambda < 0 || sparsity + owlLambda > 1)) {
            throw new IllegalArgumentException("unstructured pruning: OWL needs M > 0 and [S - lambda, S + lambda] inside [0, 1]");
        }
    }

    /** Wanda at sparsity S with the reference scope (every Linear of the decoder layer). */
    public static SparsityOptions wanda(double s) {
        return new SparsityOptions(s, SparsityMethod.WANDA, 0, 0, 5, 0.08, true, true, EmptyExpertPolicy.SKIP_DENSE);
    }

    /** OWL at mean sparsity S with M = 5, lambda = 0.08. */
    public static SparsityOptions owl(double s) {
        return new SparsityOptions(s, SparsityMethod.OWL, 0, 0, 5, 0.08, true, true, EmptyExpertPolicy.SKIP_DENSE);
    }

    /** Wanda N:M (e.g. 2:4). */
    public static SparsityOptions nm(int n, int m) {
        return new SparsityOptions((double) n / m, SparsityMethod.WANDA, n, m, 5, 0.08, true, true, EmptyExpertPolicy.SKIP_DENSE);
    }

    public SparsityOptions withScope(boolean router, boolean attention) {
        return new SparsityOptions(sparsity, method, nmN, nmM, owlM, owlLambda, router, attention, emptyExperts);
    }

    public SparsityOptions withEmptyExperts(EmptyExpertPolicy p) {
        return new SparsityOptions(sparsity, method, nmN, nmM, owlM, owlLambda, includeRouter, includeAttention, p);
    }
}
