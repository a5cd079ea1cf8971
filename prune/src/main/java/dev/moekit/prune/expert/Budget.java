package dev.moekit.prune.expert;

import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The expert budget on a model's structure alone (config, no weights): the MoE layers, the total asked for, the kept
 * count per layer in uniform allocation, STUN's per-layer pruning limit, and the top-k guard with its notes. Both the
 * metadata-only plan of the {@code prune} stage and the real selection use it, so they refuse the same requests.
 */
final class Budget {
    final ModelSpec spec;
    final ExpertPruneOptions o;
    final List<LayerSpec> moe;
    final int before;
    final boolean global;
    final int target;
    private final Set<String> notes = new LinkedHashSet<>();

    Budget(String where, ModelSpec spec, ExpertPruneOptions o, ExpertPruner<?> method) {
        this.spec = spec;
        this.o = o;
        this.moe = spec.layerSpecs().stream().filter(l -> l.moe() && l.experts() > 0).toList();
        if (moe.isEmpty()) {
            throw new IllegalArgumentException(where + ": no MoE layer to prune (dense model)");
        }
        this.global = o.allocation() == Allocation.GLOBAL;
        if (global && !method.allocatesGlobally()) {
            throw new IllegalArgumentException("expert pruning: GLOBAL allocation is STUN's threshold search; " + method.name() + " prunes uniformly");
        }
        this.before = moe.stream().mapToInt(LayerSpec::experts).sum();
        this.target = global ? globalTarget() : moe.stream().mapToInt(this::requestedKeep).sum();
    }

    List<String> notes() {
        return List.copyOf(notes);
    }

    void note(String s) {
        notes.add(s);
    }

    private int globalTarget() {
        int t = o.keep() > 0 ? o.keep() : before - (int) Math.round(before * o.pruneRatio());
        if (t > before) {
            throw new IllegalArgumentException("cannot keep " + t + " of " + before + " routed experts");
        }
        return t;
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

    /** STUN's per-layer pruning limit: {@code cap}, or E - top-k when 0. */
    int maxPrune(LayerSpec l, int cap) {
        int max = cap > 0 ? Math.min(cap, l.experts() - 1) : l.experts() - l.topK();
        return l.experts() - guard(l, l.experts() - max);
    }

    private int guard(LayerSpec l, int keep) {
        if (keep >= l.topK()) {
            return keep;
        }
        if (o.topKGuard() == TopKGuard.ERROR) {
            throw new IllegalArgumentException("layer " + l.index() + " would keep " + keep + " experts but routes every token to top-"
                    + l.topK() + "; prune less, or set top_k_guard: keep_top_k");
        }
        note("layer " + l.index() + ": kept " + l.topK() + " experts (top-k) instead of " + keep);
        return l.topK();
    }

    /**
     * The kept count of every MoE layer as far as the structure tells: exact in uniform allocation; in global
     * allocation the total is met and spread over layers in proportion to what each may lose (the real counts come
     * from the weights), so the result is an estimate.
     */
    Map<Integer, Integer> plannedCounts() {
        Map<Integer, Integer> out = new LinkedHashMap<>();
        if (!global) {
            moe.forEach(l -> out.put(l.index(), uniformKeep(l)));
            return out;
        }
        int floor = 0;
        int room = 0;
        for (LayerSpec l : moe) {
            int min = l.experts() - maxPrune(l, 0);
            floor += min;
            room += l.experts() - min;
        }
        if (target < floor) {
            throw new IllegalArgumentException("target of " + target + " kept experts is outside [" + floor + ", " + before
                    + "] allowed by the per-layer pruning limit");
        }
        int spare = target - floor;
        int given = 0;
        double[] frac = new double[moe.size()];
        for (int i = 0; i < moe.size(); i++) {
            LayerSpec l = moe.get(i);
            int min = l.experts() - maxPrune(l, 0);
            double share = room == 0 ? 0 : (double) spare * (l.experts() - min) / room;
            int k = (int) Math.floor(share);
            frac[i] = share - k;
            out.put(l.index(), min + k);
            given += k;
        }
        // largest remainders first, earlier layers on ties
        while (given < spare) {
            int best = -1;
            for (int i = 0; i < moe.size(); i++) {
                LayerSpec l = moe.get(i);
                if (out.get(l.index()) < l.experts() && (best < 0 || frac[i] > frac[best])) {
                    best = i;
                }
            }
            frac[best] = -1;
            out.merge(moe.get(best).index(), 1, Integer::sum);
            given++;
        }
        return out;
    }
}
