package dev.moekit.prune.stage;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.calib.RuntimeStats;
import dev.moekit.prune.expert.Allocation;
import dev.moekit.prune.expert.BoundPruner;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruneReport;
import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.ExpertPruning;
import dev.moekit.prune.expert.KeptExpert;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.prune.expert.TopKGuard;
import dev.moekit.prune.expert.write.ConfigEdit;
import dev.moekit.prune.expert.write.ExpertRemoval;
import dev.moekit.prune.expert.write.TensorTable;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.Params;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Recipe stage {@code prune}: remove whole experts with a registered {@link ExpertPruner} (STUN clustering or a
 * criterion), uniformly per layer by default. The stage's own keys are the budget ({@code experts} or {@code keep},
 * {@code allocation}, {@code top_k_guard}) and {@code method}; every other key belongs to the chosen method's
 * parameter record. Calibration runs only when the method needs statistics (random, and router-weight STUN with
 * {@code usage: router_norm} or the reference rule, need none).
 *
 * <pre>{@code
 * stages:
 *   - prune: {method: stun, experts: 0.25}             # remove 25% of the routed experts in every layer
 *   - prune: {method: reap, experts: 0.5}
 *   - prune: {method: stun, experts: 0.25, allocation: global, distance: mixed, mix_weight: 1.0}
 * }</pre>
 */
public final class PruneExpertsStage extends SingleUnitStage<PruneExpertsStage.Parameters> {
    static final String NAME = "prune";
    /** Older spellings of NAEE's keys, from when they were stage keys. */
    private static final Map<String, String> ALIASES = Map.of("naee_samples", "samples", "naee_max_combinations", "max_combinations");

    /**
     * @param method       registered expert pruner (default stun): stun, frequency, weighted_frequency, ean, reap,
     *                     random, naee, or any other on the class path
     * @param experts      fraction of routed experts to remove, in [0, 1) (or give {@code keep})
     * @param keep         experts kept per layer (uniform) or in total (global), instead of {@code experts}
     * @param allocation   uniform (default: loads in stock transformers) or global (STUN: one threshold, per-layer counts)
     * @param topKGuard    what happens when a layer would keep fewer than top-k experts: error (default) or keep_top_k
     * @param methodParams the method's own parameters, given as keys beside these (never under this name)
     */
    public record Parameters(
            @Doc("expert pruner: stun, frequency, weighted_frequency, ean, reap, random, naee") String method,
            @Doc("fraction of routed experts to remove, in [0, 1) (or give keep)") Double experts,
            @Doc("experts kept per layer (uniform) or in total (global), instead of experts") Integer keep,
            @Doc("uniform: the same count in every layer; global: STUN's one threshold, per-layer counts") Allocation allocation,
            @Doc("a layer that would keep fewer than top-k experts: error or keep_top_k") TopKGuard topKGuard,
            @JsonIgnore @Doc("the method's own keys, given beside these (see moekit methods expert-pruner)") Record methodParams) {
        public Parameters {
            method = method == null ? "stun" : method;
            if ((experts == null) == (keep == null)) {
                throw new IllegalArgumentException("give exactly one of 'experts' (fraction removed) or 'keep'");
            }
            allocation = allocation == null ? Allocation.UNIFORM : allocation;
            topKGuard = topKGuard == null ? TopKGuard.ERROR : topKGuard;
            ExpertPruner<?> pruner = Methods.standard().kind(ExpertPruner.KIND).get(method);
            methodParams = methodParams == null ? pruner.defaults() : methodParams;
            BoundPruner<?> bound = BoundPruner.of(pruner, methodParams);
            ExpertPruneOptions o = budget(experts, keep, allocation, topKGuard, 0); // fields are not set yet in here
            if (o.allocation() == Allocation.GLOBAL && !bound.pruner().allocatesGlobally()) {
                throw new IllegalArgumentException("allocation global is STUN's threshold search; " + method + " prunes uniformly");
            }
        }

        /** The budget with the recipe's seed. */
        public ExpertPruneOptions options(long seed) {
            return budget(experts, keep, allocation, topKGuard, seed);
        }

        private static ExpertPruneOptions budget(Double experts, Integer keep, Allocation allocation, TopKGuard guard, long seed) {
            return new ExpertPruneOptions(experts == null ? 0 : experts, keep == null ? 0 : keep, allocation, guard, seed);
        }

        /** The chosen method with its parameters. */
        public BoundPruner<?> pruner() {
            return BoundPruner.of(Methods.standard().kind(ExpertPruner.KIND).get(method), methodParams);
        }

        /** The method's keys, flat beside the stage's in provenance and resume keys. */
        @JsonAnyGetter
        Map<String, Object> methodKeys() {
            Map<String, Object> m = new LinkedHashMap<>();
            Params.toJson(methodParams).properties().forEach(e -> m.put(e.getKey(), e.getValue()));
            return m;
        }
    }

    public PruneExpertsStage() {
        super(NAME, "remove whole experts with a registered expert pruner: stun, frequency, weighted_frequency, ean, reap, random, naee",
                "", Parameters.class, Calibration.DEPENDS);
    }

    @Override
    public Parameters bind(JsonNode raw) {
        MethodKeys.Split<ExpertPruner<?>> s = MethodKeys.split(NAME, raw, Parameters.class, ExpertPruner.KIND, "stun", ALIASES);
        Record mp = s.method().bind(s.params());
        Parameters keys = Params.bind(NAME, s.stage(), Parameters.class);
        try {
            return new Parameters(keys.method(), keys.experts(), keys.keep(), keys.allocation(), keys.topKGuard(), mp);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("stage '" + NAME + "': " + e.getMessage(), e);
        }
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.pruner().needsCalibration();
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput input, StageContext ctx) {
        Layout in = input.layout();
        ModelSpec spec = in.spec();
        BoundPruner<?> m = p.pruner();
        String where = input.real() ? input.path().toString() : "planned input";
        ExpertPruning.Counts c = ExpertPruning.counts(where, spec, m, p.options(ctx.seed()));
        List<LayerResult> placeholder = new ArrayList<>();
        c.keptByLayer().forEach((l, k) -> placeholder.add(new LayerResult(l, spec.layer(l).experts(),
                IntStream.range(0, k).mapToObj(KeptExpert::single).toList(), null, Double.NaN)));
        List<TensorSpec> tensors = ExpertRemoval.tensors(TensorTable.of(where, in.tensors()), spec, placeholder);
        Layout out = new Layout(ConfigEdit.apply(spec, c.keptByLayer()), tensors, in.facts(), in.exact() && !c.estimated());
        List<String> notes = new ArrayList<>(c.notes());
        if (c.estimated()) {
            notes.add("global allocation: the per-layer expert counts come from the weights; the plan spreads the " + c.target()
                    + " kept experts over the layers as an estimate");
        }
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", m.name());
        d.set("method_params", m.paramsJson());
        d.put("experts_before", c.before());
        d.put("experts_after", c.target());
        d.put("estimated", c.estimated());
        ObjectNode per = d.putObject("kept_per_layer");
        c.keptByLayer().forEach((l, k) -> per.put(Integer.toString(l), k));
        return new Planned(out, m.needsCalibration(), notes, d);
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        BoundPruner<?> m = p.pruner();
        StatsSource stats = StatsSource.NONE;
        ObjectNode coverage = null;
        if (m.needsCalibration()) {
            try (CalibratedModel cm = CalibratedModel.open(input, ctx)) {
                RuntimeStats.Result r = RuntimeStats.collect(cm, m.blockSamples());
                stats = r.stats();
                coverage = r.coverage().toJson();
                if (r.coverage().flaggedCount() > 0) {
                    ctx.info(r.coverage().flaggedCount() + " expert(s) got fewer than " + r.coverage().threshold()
                            + " calibration tokens (see coverage in the provenance)");
                }
            }
        }
        try (Checkpoint in = Checkpoint.open(input)) {
            ExpertPruneReport r = ExpertPruning.run(in, ModelSpec.of(in), output, m, p.options(ctx.seed()), stats,
                    CheckpointWriter.Options.defaults());
            ObjectNode rep = r.toJson();
            if (coverage != null) {
                rep.set("coverage", coverage);
            }
            String summary = String.format("kept %d of %d routed experts (%s)", r.expertsAfter(), r.expertsBefore(), m.name());
            ctx.info(summary);
            r.warnings().forEach(ctx.events()::warn);
            rep.put("summary", summary);
            return rep;
        }
    }
}
