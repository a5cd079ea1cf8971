package dev.moekit.prune.expert.stun;

import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.expert.KeptExpert;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.prune.expert.Selection;
import dev.moekit.toolkit.model.LayerSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * STUN stage 1 (Lee et al., arXiv 2409.06211, ACL 2025; code thnkinbtfly/STUN {@code merge_weight.py}): distances per
 * layer, greedy complete-linkage clustering under a threshold, a global (or per-layer, uniform) threshold search for
 * the expert budget, then one representative per cluster.
 */
final class StunClusterer {
    private final Selection s;
    private final StunPruner.Parameters o;

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
        List<String> notes = new ArrayList<>();
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
        return new ExpertPruner.Selected(out, r.exact(), notes);
    }

    private double[][] distances(LayerSpec l) {
        int e = l.experts();
        int h = s.spec().hidden();
        return switch (o.distance()) {
            case ROUTER_WEIGHT -> ExpertDistances.router(s.router(l.index()), e, h, o.divideByNorm());
            case COACTIVATION -> ExpertDistances.coactivation(coactivation(l));
            case MIXED -> ExpertDistances.mixed(s.router(l.index()), e, h, coactivation(l), o.mixWeight());
        };
    }

    private long[][] coactivation(LayerSpec l) {
        var rs = s.stats().routing(l.index());
        if (rs.experts() != l.experts()) {
            throw new IllegalArgumentException("layer " + l.index() + ": statistics have " + rs.experts() + " experts, model " + l.experts());
        }
        return rs.coactivation();
    }

    private LayerResult representatives(LayerSpec l, Clustering c) {
        try (ExpertReader reader = s.experts(l.index())) {
            return representatives(l, c, reader);
        }
    }

    private LayerResult representatives(LayerSpec l, Clustering c, ExpertReader reader) {
        List<KeptExpert> kept = new ArrayList<>();
        for (int[] members : c.clusters()) {
            if (members.length == 1) {
                kept.add(KeptExpert.single(members[0]));
            } else if (o.representative().averages(members.length, c.size(), o.representativeParam())) {
                kept.add(new KeptExpert(members[0], members, true));
            } else {
                kept.add(new KeptExpert(members[Centroids.nearestToMean(members, reader)], members, false));
            }
        }
        kept.sort(Comparator.comparingInt(KeptExpert::source));
        return new LayerResult(l.index(), l.experts(), kept, null, c.tau());
    }
}
