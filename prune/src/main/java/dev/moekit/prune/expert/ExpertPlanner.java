package dev.moekit.prune.expert;

import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.List;

/** Decides, per MoE layer, which experts survive (metadata, routers and statistics only; no output is written). */
final class ExpertPlanner {
    private final Checkpoint in;
    private final ModelSpec spec;
    private final ExpertPruneOptions o;
    private final StatsSource stats;
    private final List<String> notes = new ArrayList<>();

    ExpertPlanner(Checkpoint in, ModelSpec spec, ExpertPruneOptions o, StatsSource stats) {
        this.in = in;
        this.spec = spec;
        this.o = o;
        this.stats = stats;
    }

    ExpertPruneReport plan() {
        List<LayerSpec> moe = spec.layerSpecs().stream().filter(l -> l.moe() && l.experts() > 0).toList();
        if (moe.isEmpty()) {
            throw new IllegalArgumentException(in.dir() + ": no MoE layer to prune (dense model)");
        }
        int before = moe.stream().mapToInt(LayerSpec::experts).sum();
        boolean global = o.allocation() == Allocation.GLOBAL;
        int target = global ? globalTarget(moe, before) : moe.stream().mapToInt(this::requestedKeep).sum();
        List<LayerResult> layers;
        boolean exact = true;
        if (o.method() == ExpertMethod.STUN) {
            StunClusterer.Outcome s = new StunClusterer(in, spec, o, stats).run(moe, global, target, this::uniformKeep, this::maxPrune);
            layers = s.layers();
            exact = s.exact();
            notes.addAll(s.notes());
        } else {
            layers = scoreLayers(moe);
        }
        int after = layers.stream().mapToInt(l -> l.kept().size()).sum();
        exact &= after == target;
        boolean uniform = layers.stream().mapToInt(l -> l.kept().size()).distinct().count() <= 1;
        if (!uniform) {
            notes.add("expert counts differ per layer: config key '" + ConfigEdit.expertCountKey(spec, spec.config())
                    + "' becomes a per-layer list, which stock transformers/vLLM classes cannot load; loading needs modeling"
                    + " code that reads it per layer index (as STUN's utils/modeling_mixtral.py), or use allocation UNIFORM");
        }
        if (!exact) {
            notes.add("the expert budget of " + target + " kept experts was not met exactly: " + after + " kept");
        }
        return new ExpertPruneReport(null, o, layers, before, after, target, exact, uniform, in.totalBytes(), 0, notes);
    }

    private int globalTarget(List<LayerSpec> moe, int before) {
        return o.keep() > 0 ? o.keep() : before - (int) Math.round(before * o.pruneRatio());
    }

    /** Kept experts of one layer in uniform mode as asked (before the top-k guard). */
    private int requestedKeep(LayerSpec l) {
        int keep = o.keep() > 0 ? o.keep() : l.experts() - (int) Math.round(l.experts() * o.pruneRatio());
        if (keep > l.experts()) {
            throw new IllegalArgumentException("layer " + l.index() + ": cannot keep " + keep + " of " + l.experts() + " experts");
        }
        return keep;
    }

    /** Kept experts of one layer in uniform mode, checked against top-k. */
    int uniformKeep(LayerSpec l) {
        return guard(l, requestedKeep(l));
    }

    /** STUN's per-layer pruning limit: the option, or E - top-k. */
    int maxPrune(LayerSpec l) {
        int max = o.maxPrunePerLayer() > 0 ? Math.min(o.maxPrunePerLayer(), l.experts() - 1) : l.experts() - l.topK();
        return l.experts() - guard(l, l.experts() - max);
    }

    private int guard(LayerSpec l, int keep) {
        if (keep >= l.topK()) {
            return keep;
        }
        if (o.topKGuard() == TopKGuard.ERROR) {
            throw new IllegalArgumentException("layer " + l.index() + " would keep " + keep + " experts but routes every token to top-"
                    + l.topK() + "; prune less, or set topKGuard KEEP_TOP_K");
        }
        notes.add("layer " + l.index() + ": kept " + l.topK() + " experts (top-k) instead of " + keep);
        return l.topK();
    }

    private List<LayerResult> scoreLayers(List<LayerSpec> moe) {
        ExpertScorer scorer = ExpertScorers.get(o.method());
        List<LayerResult> out = new ArrayList<>();
        for (LayerSpec l : moe) {
            try (CheckpointExperts weights = new CheckpointExperts(in, spec, l.index())) {
                LayerContext ctx = context(l, weights);
                double[] scores = scorer.scores(ctx);
                int keep = uniformKeep(l);
                int[] kept = keep == l.experts() ? java.util.stream.IntStream.range(0, keep).toArray() : scorer.keep(ctx, scores, keep);
                out.add(new LayerResult(l.index(), l.experts(), java.util.Arrays.stream(kept).mapToObj(KeptExpert::single).toList(), scores, Double.NaN));
            }
        }
        return out;
    }

    private LayerContext context(LayerSpec l, ExpertReader weights) {
        int layer = l.index();
        String router = ExpertRoles.router(in, spec, layer);
        String bias = spec.family().has(Role.ROUTER_CORRECTION_BIAS) ? spec.name(Role.ROUTER_CORRECTION_BIAS, layer) : null;
        return new LayerContext(layer, l.experts(), l.topK(), spec.hidden(), spec.routing(), stats,
                () -> in.floats(router),
                () -> bias != null && in.has(bias) ? toDouble(in.floats(bias)) : null,
                weights, o.seed(), o.naeeMaxCombinations());
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
