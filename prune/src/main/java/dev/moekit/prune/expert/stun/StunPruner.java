package dev.moekit.prune.expert.stun;

import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.Selection;
import dev.moekit.toolkit.method.Doc;

/**
 * Expert pruner {@code stun}: STUN stage 1 (Lee et al., arXiv 2409.06211, ACL 2025), distance clustering of each
 * layer's experts with complete linkage under a threshold, one representative per cluster. The only method that can
 * allocate the budget globally (one threshold for all layers). Calibrates for co-activation distances, and for the
 * defaults that read expert usage (usage-weighted distances, the member nearest the usage-weighted centroid; usage from
 * one routing pass); router-weight distances with {@code usage: router_norm}, or with the reference's
 * {@code representative: nearest_to_mean} and {@code usage_weighted: false}, need no calibration.
 */
public final class StunPruner implements ExpertPruner<StunPruner.Parameters> {
    /**
     * @param distance            router_weight (default), coactivation or mixed
     * @param divideByNorm        router distance divided by the router's Frobenius norm (default true, as the reference)
     * @param mixWeight           lambda of the mixed distance (default 1)
     * @param coactivationNorm    how co-activation counts are scaled (default min_count: C_ij / min(n_i, n_j))
     * @param maxPrunePerLayer    per-layer cap on removed experts (default 0: E - top_k)
     * @param search              global threshold search: bisection (default) or step
     * @param representative      what replaces a multi-member cluster (default nearest_to_weighted_mean)
     * @param representativeParam kappa or cluster count of the averaging variants (default 0)
     * @param usage               where expert usage comes from (default calibration; router_norm needs none)
     * @param usageWeighted       pair distances scaled by the usage of the less used member (default true)
     */
    public record Parameters(
            @Doc("expert distance: router_weight (no calibration), coactivation or mixed") DistanceMode distance,
            @Doc("router distance divided by the router's Frobenius norm, as the reference code") Boolean divideByNorm,
            @Doc("lambda of the mixed distance: z(r) - lambda * z(a), both terms standardised (coactivation_norm mean: cdist - lambda * C / mean C)") Double mixWeight,
            @Doc("co-activation scaling: min_count (C_ij / min(n_i, n_j)) or mean (C / mean C, the reference's)") CoactivationNorm coactivationNorm,
            @Doc("cap on experts removed per layer; 0: E - top_k") Integer maxPrunePerLayer,
            @Doc("global threshold search: bisection, or step (the reference's doubling then halving)") ThresholdSearch search,
            @Doc("what replaces a cluster: nearest_to_weighted_mean, nearest_to_mean (reference), average, average_small_clusters, average_few_clusters") Representative representative,
            @Doc("kappa (average_small_clusters) or the cluster count (average_few_clusters)") Integer representativeParam,
            @Doc("expert usage for the weighted centroid and ties: calibration (gate mass, one routing pass) or router_norm (no calibration)") Usage usage,
            @Doc("scale each pair distance by min(u_i, u_j) / mean u, what merging the pair costs (false: the reference's plain distances)") Boolean usageWeighted) {
        public Parameters {
            distance = distance == null ? DistanceMode.ROUTER_WEIGHT : distance;
            divideByNorm = divideByNorm == null || divideByNorm;
            mixWeight = mixWeight == null ? 1.0 : mixWeight;
            coactivationNorm = coactivationNorm == null ? CoactivationNorm.MIN_COUNT : coactivationNorm;
            maxPrunePerLayer = maxPrunePerLayer == null ? 0 : maxPrunePerLayer;
            search = search == null ? ThresholdSearch.BISECTION : search;
            representative = representative == null ? Representative.NEAREST_TO_WEIGHTED_MEAN : representative;
            representativeParam = representativeParam == null ? 0 : representativeParam;
            usage = usage == null ? Usage.CALIBRATION : usage;
            usageWeighted = usageWeighted == null || usageWeighted;
            if (!Double.isFinite(mixWeight)) {
                throw new IllegalArgumentException("mix_weight must be finite, got " + mixWeight);
            }
            if (maxPrunePerLayer < 0 || representativeParam < 0) {
                throw new IllegalArgumentException("max_prune_per_layer and representative_param must be >= 0, got "
                        + maxPrunePerLayer + " and " + representativeParam);
            }
        }
    }

    @Override
    public String name() {
        return "stun";
    }

    @Override
    public String summary() {
        return "STUN stage 1: cluster each layer's experts by router-row and/or co-activation distance, keep one per cluster"
                + " (by default its member nearest the usage-weighted centroid)";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2409.06211";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.DEPENDS;
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.distance().needsCalibration() || p.usage() == Usage.CALIBRATION && (p.representative().usesUsage() || p.usageWeighted());
    }

    @Override
    public boolean allocatesGlobally() {
        return true;
    }

    @Override
    public Selected select(Parameters p, Selection s) {
        return new StunClusterer(s, p).run();
    }
}
