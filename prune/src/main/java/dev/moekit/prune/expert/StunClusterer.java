package dev.moekit.prune.expert;

import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * STUN stage 1 (Lee et al., arXiv 2409.06211, ACL 2025; code thnkinbtfly/STUN {@code merge_weight.py}): distances per
 * layer, greedy complete-linkage clustering under a threshold, a global (or per-layer, uniform) threshold search for
 * the expert budget, then one representative per cluster.
 */
final class StunClusterer {
    record Outcome(List<LayerResult> layers, boolean exact, List<String> notes) {}

    private final Checkpoint in;
    private final ModelSpec spec;
    private final ExpertPruneOptions o;
    private final StatsSource stats;

    StunClusterer(Checkpoint in, ModelSpec spec, ExpertPruneOptions o, StatsSource stats) {
        this.in = in;
        this.spec = spec;
        this.o = o;
        this.stats = stats;
    }

    Outcome run(List<LayerSpec> moe, boolean global, int target, ToIntFunction<LayerSpec> uniformKeep,
                ToIntFunction<LayerSpec> maxPrune) {
        List<GreedyClustering> prepared = new ArrayList<>();
        for (LayerSpec l : moe) {
            prepared.add(GreedyClustering.of(distances(l)));
        }
        BudgetSearch.Result r;
        List<String> notes = new ArrayList<>();
        if (global) {
            int[] limits = moe.stream().mapToInt(maxPrune).toArray();
            r = BudgetSearch.global(prepared, limits, target, o.search());
            notes.add("global threshold tau = " + r.layers().getFirst().tau() + " after " + r.rounds() + " clustering rounds");
        } else {
            int keep = uniformKeep.applyAsInt(moe.getFirst());
            for (LayerSpec l : moe) {
                if (uniformKeep.applyAsInt(l) != keep) {
                    throw new IllegalArgumentException("uniform STUN needs the same kept count in every MoE layer; layer " + l.index() + " differs");
                }
            }
            r = BudgetSearch.uniform(prepared, keep);
        }
        List<LayerResult> out = new ArrayList<>();
        for (int i = 0; i < moe.size(); i++) {
            out.add(representatives(moe.get(i), r.layers().get(i)));
        }
        return new Outcome(out, r.exact(), notes);
    }

    private double[][] distances(LayerSpec l) {
        int e = l.experts();
        int h = spec.hidden();
        return switch (o.distance()) {
            case ROUTER_WEIGHT -> ExpertDistances.router(router(l, e, h), e, h, o.divideByNorm());
            case COACTIVATION -> ExpertDistances.coactivation(coactivation(l));
            case MIXED -> ExpertDistances.mixed(router(l, e, h), e, h, coactivation(l), o.mixWeight());
        };
    }

    private float[] router(LayerSpec l, int e, int h) {
        String n = ExpertRoles.router(in, spec, l.index());
        float[] w = in.floats(n);
        if (w.length != (long) e * h) {
            throw new CheckpointException(in.dir() + ": router '" + n + "' has shape " + in.info(n).shapeString() + ", expected [" + e + ", " + h + "]");
        }
        return w;
    }

    private long[][] coactivation(LayerSpec l) {
        var rs = stats.routing(l.index());
        if (rs.experts() != l.experts()) {
            throw new IllegalArgumentException("layer " + l.index() + ": statistics have " + rs.experts() + " experts, model " + l.experts());
        }
        return rs.coactivation();
    }

    private LayerResult representatives(LayerSpec l, Clustering c) {
        try (CheckpointExperts reader = new CheckpointExperts(in, spec, l.index())) {
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
        kept.sort(java.util.Comparator.comparingInt(KeptExpert::source));
        return new LayerResult(l.index(), l.experts(), kept, null, c.tau());
    }
}
