package dev.moekit.prune.expert.stun;

import dev.moekit.prune.expert.ClusterInfo;
import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.expert.KeptExpert;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.prune.expert.Selection;
import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.toolkit.model.LayerSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * STUN stage 1 (Lee et al., arXiv 2409.06211, ACL 2025; code thnkinbtfly/STUN {@code merge_weight.py}): distances per
 * layer, greedy complete-linkage clustering under a threshold, a global (or per-layer, uniform) threshold search for
 * the expert budget, then one representative per cluster: by default the member nearest the usage-weighted centroid,
 * ties to the more used (then higher-REAP, then larger) member. The report holds, per cluster, each member's usage and
 * weight cosine; clusters of nearly orthogonal experts (mean cosine below {@link #ORTHOGONAL}) give a warning.
 */
final class StunClusterer {
    /** Mean weight cosine inside clusters below which the members are taken as nearly orthogonal. */
    static final double ORTHOGONAL = 0.1;

    private final Selection s;
    private final StunPruner.Parameters o;
    private final List<String> notes = new ArrayList<>();
    private boolean usageFallback;

    StunClusterer(Selection s, StunPruner.Parameters o) {
        this.s = s;
        this.o = o;
    }

    ExpertPruner.Selected run() {
        List<LayerSpec> moe = s.layers();
        List<GreedyClustering> prepared = new ArrayList<>();
        for (LayerSpec l : moe) {
            prepared.add(GreedyClustering.of(distances(l)));
        }
        BudgetSearch.Result r;
        if (s.global()) {
            int[] limits = moe.stream().mapToInt(l -> s.maxPrune(l, o.maxPrunePerLayer())).toArray();
            r = BudgetSearch.global(prepared, limits, s.target(), o.search());
            notes.add("global threshold tau = " + r.layers().getFirst().tau() + " after " + r.rounds() + " clustering rounds");
        } else {
            int keep = s.keep(moe.getFirst());
            for (LayerSpec l : moe) {
                if (s.keep(l) != keep) {
                    throw new IllegalArgumentException("uniform STUN needs the same kept count in every MoE layer; layer " + l.index() + " differs");
                }
            }
            r = BudgetSearch.uniform(prepared, keep);
        }
        List<LayerResult> out = new ArrayList<>();
        for (int i = 0; i < moe.size(); i++) {
            out.add(representatives(moe.get(i), r.layers().get(i)));
        }
        if (o.usageWeighted()) {
            notes.add("pair distances scaled by min(u_i, u_j) / mean u (usage_weighted)");
        }
        notes.add(usageFallback || o.usage() == Usage.ROUTER_NORM
                ? "expert usage: router-row norms ||W_r[i]||_2" + (usageFallback ? " (no calibration statistics were given)" : "")
                : "expert usage: gate mass from calibration (sum of the applied gate values per expert)");
        return new ExpertPruner.Selected(out, r.exact(), notes, orthogonality(out));
    }

    private double[][] distances(LayerSpec l) {
        double[][] d = plainDistances(l);
        return o.usageWeighted() ? ExpertDistances.usageWeighted(d, usage(l, routingIfAny(l))) : d;
    }

    private double[][] plainDistances(LayerSpec l) {
        int e = l.experts();
        int h = s.spec().hidden();
        return switch (o.distance()) {
            case ROUTER_WEIGHT -> ExpertDistances.router(s.router(l.index()), e, h, o.divideByNorm());
            case COACTIVATION -> ExpertDistances.coactivation(routing(l).coactivation(), routing(l).counts(), o.coactivationNorm());
            case MIXED -> ExpertDistances.mixed(s.router(l.index()), e, h, routing(l).coactivation(), routing(l).counts(), o.mixWeight(),
                    o.coactivationNorm());
        };
    }

    private RoutingStats routing(LayerSpec l) {
        RoutingStats rs = s.stats().routing(l.index());
        if (rs.experts() != l.experts()) {
            throw new IllegalArgumentException("layer " + l.index() + ": statistics have " + rs.experts() + " experts, model " + l.experts());
        }
        return rs;
    }

    /** The layer's routing statistics, or null when none were given. */
    private RoutingStats routingIfAny(LayerSpec l) {
        try {
            return routing(l);
        } catch (IllegalStateException none) {
            return null;
        }
    }

    /** Per expert of the layer: gate mass from calibration, or router-row norms (asked for, or without statistics). */
    private double[] usage(LayerSpec l, RoutingStats rs) {
        if (o.usage() == Usage.CALIBRATION && rs != null) {
            return rs.gateSums();
        }
        usageFallback |= o.usage() == Usage.CALIBRATION;
        float[] w = s.router(l.index());
        int h = s.spec().hidden();
        double[] u = new double[l.experts()];
        for (int i = 0; i < u.length; i++) {
            double t = 0;
            for (int k = 0; k < h; k++) {
                t += (double) w[i * h + k] * w[i * h + k];
            }
            u[i] = Math.sqrt(t);
        }
        return u;
    }

    /** REAP's score per expert (mean over routed tokens of renormalised gate x output norm), or null without norms. */
    private static double[] reap(RoutingStats rs) {
        if (rs == null || !rs.hasOutputNorms()) {
            return null;
        }
        double[] sums = rs.reapSums();
        double[] r = new double[sums.length];
        for (int j = 0; j < r.length; j++) {
            r[j] = rs.count(j) == 0 ? 0 : sums[j] / rs.count(j);
        }
        return r;
    }

    private LayerResult representatives(LayerSpec l, Clustering c) {
        try (ExpertReader reader = s.experts(l.index())) {
            return representatives(l, c, reader);
        }
    }

    private LayerResult representatives(LayerSpec l, Clustering c, ExpertReader reader) {
        RoutingStats rs = routingIfAny(l);
        double[] usage = usage(l, rs);
        double[] reap = reap(rs);
        List<KeptExpert> kept = new ArrayList<>();
        List<ClusterInfo> info = new ArrayList<>();
        for (int[] members : c.clusters()) {
            double[] u = pick(usage, members);
            if (members.length == 1) {
                kept.add(KeptExpert.single(members[0]));
                info.add(new ClusterInfo(u, new double[] {1}, Double.NaN));
                continue;
            }
            double[][] g = Centroids.gram(members, reader);
            double[] p;
            if (o.representative().averages(members.length, c.size(), o.representativeParam())) {
                kept.add(new KeptExpert(members[0], members, true));
                p = Centroids.uniform(members.length);
            } else {
                int a = o.representative() == Representative.NEAREST_TO_WEIGHTED_MEAN
                        ? Centroids.nearestToWeightedMean(g, u, reap == null ? null : pick(reap, members))
                        : Centroids.nearestToMean(g);
                kept.add(new KeptExpert(members[a], members, false));
                p = new double[members.length];
                p[a] = 1;
            }
            info.add(new ClusterInfo(u, Centroids.cosines(g, p), Centroids.meanPairCosine(g)));
        }
        Integer[] order = new Integer[kept.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt(i -> kept.get(i).source()));
        List<KeptExpert> k = new ArrayList<>();
        List<ClusterInfo> ci = new ArrayList<>();
        for (int i : order) {
            k.add(kept.get(i));
            ci.add(info.get(i));
        }
        return new LayerResult(l.index(), l.experts(), k, null, c.tau(), ci);
    }

    private static double[] pick(double[] v, int[] members) {
        double[] r = new double[members.length];
        for (int a = 0; a < members.length; a++) {
            r[a] = v[members[a]];
        }
        return r;
    }

    /**
     * The warning that STUN's premise fails: layers whose clustered experts are nearly orthogonal (mean weight cosine
     * over the pairs inside clusters below {@link #ORTHOGONAL}), so no member can stand in for the others.
     */
    private List<String> orthogonality(List<LayerResult> layers) {
        List<Integer> flagged = new ArrayList<>();
        double sum = 0;
        int pairs = 0;
        double flaggedSum = 0;
        int flaggedPairs = 0;
        for (LayerResult lr : layers) {
            double ls = 0;
            int lp = 0;
            for (int i = 0; i < lr.kept().size(); i++) {
                int n = lr.kept().get(i).members().length;
                double m = lr.clusters().get(i).meanPairCosine();
                if (n > 1 && !Double.isNaN(m)) {
                    ls += m * n * (n - 1) / 2;
                    lp += n * (n - 1) / 2;
                }
            }
            sum += ls;
            pairs += lp;
            if (lp > 0 && ls / lp < ORTHOGONAL) {
                flagged.add(lr.layer());
                flaggedSum += ls;
                flaggedPairs += lp;
            }
        }
        if (flagged.isEmpty()) {
            return List.of();
        }
        String kept = o.representative() == Representative.NEAREST_TO_WEIGHTED_MEAN
                ? "each cluster keeps its most used member (nearest the usage-weighted centroid) and the others are simply removed"
                : "the kept member does not stand for the others; representative nearest_to_weighted_mean keeps the most used one";
        return List.of(String.format(Locale.ROOT, "STUN clustered nearly orthogonal experts in %d of %d layers %s (mean weight cosine"
                + " %.3f inside their clusters, %.3f over all layers; below %.1f): STUN's premise that clustered experts are"
                + " interchangeable does not hold here; %s. Experts trained from scratch look like this; a routing-statistics"
                + " criterion (weighted_frequency, ean, frequency) may suit them better", flagged.size(), layers.size(), flagged,
                flaggedSum / flaggedPairs, pairs > 0 ? sum / pairs : Double.NaN, ORTHOGONAL, kept));
    }
}
