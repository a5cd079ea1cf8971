package dev.moekit.prune.expert;

/**
 * Settings of expert pruning; build with {@link #builder()}. Every field lands in the output's provenance.
 *
 * @param method             STUN clustering or a named scorer
 * @param pruneRatio         fraction of routed experts to remove, in [0, 1)
 * @param keep               explicit budget overriding the ratio when positive: experts kept per layer (UNIFORM) or in
 *                           total (GLOBAL)
 * @param allocation         UNIFORM (default, loads in stock HF) or GLOBAL (STUN only: one threshold, per-layer counts)
 * @param distance           STUN distance (router weights by default: no calibration)
 * @param divideByNorm       STUN router distance divided by ||W_r||_F (reference default true)
 * @param mixWeight          lambda of the MIXED distance
 * @param maxPrunePerLayer   STUN's per-layer limit on removed experts; 0 means E - top-k
 * @param search             how the global threshold is searched
 * @param representative     what replaces a multi-member cluster (default nearest to the mean)
 * @param representativeParam kappa or the cluster count of the averaging variants
 * @param topKGuard          what happens when a layer would keep fewer than top-k experts
 * @param seed               seed of the random criterion
 * @param naeeMaxCombinations NAEE refuses layers with more candidate kept sets than this
 */
public record ExpertPruneOptions(ExpertMethod method, double pruneRatio, int keep, Allocation allocation,
                                 DistanceMode distance, boolean divideByNorm, double mixWeight, int maxPrunePerLayer,
                                 ThresholdSearch search, Representative representative, int representativeParam,
                                 TopKGuard topKGuard, long seed, long naeeMaxCombinations) {
    public ExpertPruneOptions {
        // absent enum settings (e.g. keys missing from a recipe) take the defaults
        method = method == null ? ExpertMethod.STUN : method;
        allocation = allocation == null ? Allocation.UNIFORM : allocation;
        distance = distance == null ? DistanceMode.ROUTER_WEIGHT : distance;
        search = search == null ? ThresholdSearch.BISECTION : search;
        representative = representative == null ? Representative.NEAREST_TO_MEAN : representative;
        topKGuard = topKGuard == null ? TopKGuard.ERROR : topKGuard;
        if (!(pruneRatio >= 0 && pruneRatio < 1)) {
            throw new IllegalArgumentException("expert pruning: prune ratio must be in [0, 1), got " + pruneRatio);
        }
        if (keep < 0 || maxPrunePerLayer < 0 || representativeParam < 0 || naeeMaxCombinations < 1) {
            throw new IllegalArgumentException("expert pruning: keep, maxPrunePerLayer, representativeParam must be >= 0 and naeeMaxCombinations >= 1");
        }
        if (allocation == Allocation.GLOBAL && method != ExpertMethod.STUN) {
            throw new IllegalArgumentException("expert pruning: GLOBAL allocation is STUN's threshold search; " + method.key() + " prunes uniformly");
        }
        if (!Double.isFinite(mixWeight)) {
            throw new IllegalArgumentException("expert pruning: mix weight must be finite, got " + mixWeight);
        }
        if (pruneRatio == 0 && keep == 0) {
            throw new IllegalArgumentException("expert pruning: give a prune ratio > 0 or an explicit keep count");
        }
    }

    /** Whether this run reads calibration statistics. */
    public boolean needsCalibration() {
        return method == ExpertMethod.STUN ? distance.needsCalibration() : method.needsCalibration();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder with the reference defaults; {@code set*} for the budget, {@code opt*} for the rest. */
    public static final class Builder {
        private ExpertMethod method = ExpertMethod.STUN;
        private double pruneRatio;
        private int keep;
        private Allocation allocation = Allocation.UNIFORM;
        private DistanceMode distance = DistanceMode.ROUTER_WEIGHT;
        private boolean divideByNorm = true;
        private double mixWeight = 1.0;
        private int maxPrunePerLayer;
        private ThresholdSearch search = ThresholdSearch.BISECTION;
        private Representative representative = Representative.NEAREST_TO_MEAN;
        private int representativeParam;
        private TopKGuard topKGuard = TopKGuard.ERROR;
        private long seed;
        private long naeeMaxCombinations = 10_000;

        public Builder setPruneRatio(double r) { pruneRatio = r; return this; }
        public Builder setKeep(int k) { keep = k; return this; }
        public Builder optMethod(ExpertMethod m) { method = m; return this; }
        public Builder optAllocation(Allocation a) { allocation = a; return this; }
        public Builder optDistance(DistanceMode d) { distance = d; return this; }
        public Builder optDivideByNorm(boolean b) { divideByNorm = b; return this; }
        public Builder optMixWeight(double w) { mixWeight = w; return this; }
        public Builder optMaxPrunePerLayer(int m) { maxPrunePerLayer = m; return this; }
        public Builder optSearch(ThresholdSearch s) { search = s; return this; }
        public Builder optRepresentative(Representative r, int param) { representative = r; representativeParam = param; return this; }
        public Builder optTopKGuard(TopKGuard g) { topKGuard = g; return this; }
        public Builder optSeed(long s) { seed = s; return this; }
        public Builder optNaeeMaxCombinations(long n) { naeeMaxCombinations = n; return this; }

        public ExpertPruneOptions build() {
            return new ExpertPruneOptions(method, pruneRatio, keep, allocation, distance, divideByNorm, mixWeight,
                    maxPrunePerLayer, search, representative, representativeParam, topKGuard, seed, naeeMaxCombinations);
        }
    }
}
