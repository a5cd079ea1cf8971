package dev.moekit.prune.expert;

import dev.moekit.prune.expert.write.ConfigEdit;
import dev.moekit.prune.expert.write.ExpertRoles;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.List;

/** Decides, per MoE layer, which experts survive (metadata, routers and statistics only; no output is written). */
final class ExpertPlanner implements Selection {
    private final Checkpoint in;
    private final ModelSpec spec;
    private final BoundPruner<?> method;
    private final ExpertPruneOptions o;
    private final StatsSource stats;
    private final Budget budget;

    ExpertPlanner(Checkpoint in, ModelSpec spec, BoundPruner<?> method, ExpertPruneOptions o, StatsSource stats) {
        this.in = in;
        this.spec = spec;
        this.method = method;
        this.o = o;
        this.stats = stats;
        this.budget = new Budget(in.dir().toString(), spec, o, method.pruner());
    }

    ExpertPruneReport plan() {
        ExpertPruner.Selected s = method.select(this);
        List<LayerResult> layers = s.layers();
        checkCovers(layers);
        boolean exact = s.exact();
        s.notes().forEach(budget::note);
        int after = layers.stream().mapToInt(l -> l.kept().size()).sum();
        exact &= after == budget.target;
        boolean uniform = layers.stream().mapToInt(l -> l.kept().size()).distinct().count() <= 1;
        String key = ConfigEdit.expertCountKey(spec, spec.config());
        if (!uniform) {
            budget.note("expert counts differ per layer: config key '" + key
                    + "' becomes a per-layer list, which stock transformers/vLLM classes cannot load; loading needs modeling"
                    + " code that reads it per layer index (as STUN's utils/modeling_mixtral.py), or use allocation UNIFORM");
        }
        if (!exact) {
            budget.note("the expert budget of " + budget.target + " kept experts was not met exactly: " + after + " kept");
        }
        return new ExpertPruneReport(null, method.name(), method.paramsJson(), o, spec.family().name(), key, layers,
                budget.before, after, budget.target, exact, uniform, in.totalBytes(), 0, budget.notes(), s.warnings());
    }

    /** A method must answer for exactly the MoE layers, in order, and in uniform allocation with the asked count. */
    private void checkCovers(List<LayerResult> layers) {
        String who = "expert-pruner '" + method.name() + "'";
        if (layers.size() != budget.moe.size()) {
            throw new IllegalStateException(who + " decided " + layers.size() + " layers, the model has " + budget.moe.size() + " MoE layers");
        }
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec l = budget.moe.get(i);
            LayerResult r = layers.get(i);
            if (r.layer() != l.index() || r.experts() != l.experts()) {
                throw new IllegalStateException(who + " answered layer " + r.layer() + " (" + r.experts() + " experts) for layer "
                        + l.index() + " (" + l.experts() + " experts)");
            }
            if (!budget.global && r.kept().size() != budget.uniformKeep(l)) {
                throw new IllegalStateException(who + " kept " + r.kept().size() + " experts in layer " + l.index() + ", asked for "
                        + budget.uniformKeep(l));
            }
        }
    }

    @Override
    public Checkpoint checkpoint() {
        return in;
    }

    @Override
    public ModelSpec spec() {
        return spec;
    }

    @Override
    public List<LayerSpec> layers() {
        return budget.moe;
    }

    @Override
    public StatsSource stats() {
        return stats;
    }

    @Override
    public long seed() {
        return o.seed();
    }

    @Override
    public boolean global() {
        return budget.global;
    }

    @Override
    public int target() {
        return budget.target;
    }

    @Override
    public int keep(LayerSpec layer) {
        return budget.uniformKeep(layer);
    }

    @Override
    public int maxPrune(LayerSpec layer, int cap) {
        return budget.maxPrune(layer, cap);
    }

    @Override
    public ExpertReader experts(int layer) {
        return new CheckpointExperts(in, spec, layer);
    }

    @Override
    public float[] router(int layer) {
        String n = ExpertRoles.router(in, spec, layer);
        int e = spec.layer(layer).experts();
        float[] w = in.floats(n);
        if (w.length != (long) e * spec.hidden()) {
            throw new CheckpointException(in.dir() + ": router '" + n + "' has shape " + in.info(n).shapeString() + ", expected ["
                    + e + ", " + spec.hidden() + "]");
        }
        return w;
    }

    @Override
    public double[] correctionBias(int layer) {
        if (!spec.family().has(Role.ROUTER_CORRECTION_BIAS)) {
            return null;
        }
        String bias = spec.name(Role.ROUTER_CORRECTION_BIAS, layer);
        if (!in.has(bias)) {
            return null;
        }
        float[] f = in.floats(bias);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
