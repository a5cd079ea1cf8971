package dev.moekit.prune.sparse;

/**
 * What every sparsifier shares (the {@code sparsify} stage's own keys, resolved): the mean target, the N:M pattern,
 * the scope and the policy for Linears without calibration tokens. The method and its parameters are a
 * {@link BoundSparsifier}.
 *
 * @param sparsity          target fraction S of zeros per pruned Linear (per-layer methods: the mean over layers);
 *                          N/M for N:M
 * @param nmN               N of N:M semi-structured sparsity (0: unstructured)
 * @param nmM               M of N:M (e.g. 2:4)
 * @param includeRouter     prune router (and shared-expert gate) Linears too; the reference does (default true)
 * @param includeAttention  prune attention Linears; the reference does (default true)
 * @param emptyExperts      policy for Linears without calibration tokens (default SKIP_DENSE, as the reference)
 */
public record SparsityOptions(double sparsity, int nmN, int nmM, boolean includeRouter, boolean includeAttention,
                              EmptyExpertPolicy emptyExperts) {
    public SparsityOptions {
        if (emptyExperts == null) {
            throw new IllegalArgumentException("unstructured pruning: emptyExperts is required");
        }
        if (nmN > 0) {
            if (nmM < 1 || nmN > nmM) {
                throw new IllegalArgumentException("unstructured pruning: N:M needs 0 < N <= M, got " + nmN + ":" + nmM);
            }
        } else if (!(sparsity > 0 && sparsity < 1)) {
            throw new IllegalArgumentException("unstructured pruning: sparsity must be in (0, 1), got " + sparsity);
        }
    }

    /** Sparsity S with the reference scope (every Linear of the decoder layer). */
    public static SparsityOptions of(double s) {
        return new SparsityOptions(s, 0, 0, true, true, EmptyExpertPolicy.SKIP_DENSE);
    }

    /** N:M (e.g. 2:4) with the reference scope. */
    public static SparsityOptions nm(int n, int m) {
        return new SparsityOptions((double) n / m, n, m, true, true, EmptyExpertPolicy.SKIP_DENSE);
    }

    public SparsityOptions withScope(boolean router, boolean attention) {
        return new SparsityOptions(sparsity, nmN, nmM, router, attention, emptyExperts);
    }

    public SparsityOptions withEmptyExperts(EmptyExpertPolicy p) {
        return new SparsityOptions(sparsity, nmN, nmM, includeRouter, includeAttention, p);
    }

    /** "2:4", or null when unstructured. */
    public String pattern() {
        return nmN > 0 ? nmN + ":" + nmM : null;
    }
}
