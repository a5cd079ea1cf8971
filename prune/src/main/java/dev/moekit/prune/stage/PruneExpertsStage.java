package dev.moekit.prune.stage;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.CommitContext;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.TensorUnits;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
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
public final class PruneExpertsStage implements StageType<PruneExpertsStage.Parameters> {
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
            @Doc("decoder layers per work unit that writes pruned tensors (batch jobs; the output is the same for any value)") Integer layersPerUnit,
            @JsonIgnore @Doc("the method's own keys, given beside these (see moekit methods expert-pruner)") Record methodParams) {
        public Parameters {
            method = method == null ? "stun" : method;
            if ((experts == null) == (keep == null)) {
                throw new IllegalArgumentException("give exactly one of 'experts' (fraction removed) or 'keep'");
            }
            allocation = allocation == null ? Allocation.UNIFORM : allocation;
            topKGuard = topKGuard == null ? TopKGuard.ERROR : topKGuard;
            layersPerUnit = layersPerUnit == null ? 8 : layersPerUnit;
            if (layersPerUnit < 1) {
                throw new IllegalArgumentException("layers_per_unit must be at least 1, got " + layersPerUnit);
            }
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

    /** The unit that calibrates (when the method needs statistics) and decides every layer's experts. */
    static final String DECIDE = "decide";
    private static final String DECISIONS = "decisions.json";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "remove whole experts with a registered expert pruner: stun, frequency, weighted_frequency, ean, reap, random, naee";
    }

    @Override
    public String reference() {
        return "";
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
    public Parameters bind(JsonNode raw) {
        MethodKeys.Split<ExpertPruner<?>> s = MethodKeys.split(NAME, raw, Parameters.class, ExpertPruner.KIND, "stun", ALIASES);
        Record mp = s.method().bind(s.params());
        Parameters keys = Params.bind(NAME, s.stage(), Parameters.class);
        try {
            return new Parameters(keys.method(), keys.experts(), keys.keep(), keys.allocation(), keys.topKGuard(), keys.layersPerUnit(), mp);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("stage '" + NAME + "': " + e.getMessage(), e);
        }
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.pruner().needsCalibration();
    }

    private SingleUnitStage.Planned planOutput(Parameters p, PlanInput input, StageContext ctx) {
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
        return new SingleUnitStage.Planned(out, m.needsCalibration(), notes, d);
    }

    /**
     * The work units: {@code decide} runs the calibration pass (methods that need statistics; one pass over all
     * layers of the input model) and decides every MoE layer's experts (a global allocation needs all layers at
     * once); then one unit per group of {@code layers_per_unit} decoder layers writes that group's tensors (kept
     * experts copied or averaged, router rows), each waiting only for {@code decide}, and {@code rest} copies the
     * tensors outside decoder layers without waiting.
     */
    @Override
    public Plan plan(Parameters p, PlanInput input, StageContext ctx) {
        SingleUnitStage.Planned pl = planOutput(p, input, ctx);
        long bytesIn = input.layout().bytes();
        List<WorkUnit> units = new ArrayList<>();
        units.add(new WorkUnit(DECIDE, (pl.calibrates() ? "calibration statistics and " : "") + "the kept experts of every MoE layer",
                bytesIn, 0, pl.calibrates() ? bytesIn : bytesIn / 100, List.of(), null));
        Map<String, List<TensorSpec>> out = TensorUnits.group(pl.output().tensors(), p.layersPerUnit());
        Map<String, List<TensorSpec>> in = TensorUnits.group(input.layout().tensors(), p.layersPerUnit());
        for (var e : out.entrySet()) {
            boolean rest = e.getKey().equals(TensorUnits.REST);
            long read = in.getOrDefault(e.getKey(), List.of()).stream().mapToLong(TensorSpec::byteSize).sum();
            long written = e.getValue().stream().mapToLong(TensorSpec::byteSize).sum();
            units.add(new WorkUnit(e.getKey(), rest ? "copy the tensors outside decoder layers" : "write the pruned tensors of " + e.getKey(),
                    read, written, read, rest ? List.of() : List.of(DECIDE), null));
        }
        return new Plan(NAME, pl.output(), bytesIn, pl.calibrates(), units, pl.notes(), pl.details());
    }

    @Override
    public JsonNode execute(Parameters p, Plan plan, WorkUnit unit, UnitContext ctx) throws Exception {
        if (unit.id().equals(DECIDE)) {
            return decide(p, ctx.input(), ctx.dir(), ctx.stage());
        }
        List<LayerResult> layers = unit.id().equals(TensorUnits.REST) ? List.of() : readDecisions(ctx.finished(DECIDE).resolve(DECISIONS));
        try (Checkpoint in = Checkpoint.open(ctx.input())) {
            long bytes = ExpertRemoval.writeSome(in, ModelSpec.of(in), layers, n -> TensorUnits.unitOf(n, p.layersPerUnit()).equals(unit.id()),
                    ts -> TensorUnits.unitWriter(ctx.dir(), ts));
            return Json.PRETTY.createObjectNode().put("bytes_out", bytes);
        }
    }

    /** Assembles the units' tensors with the edited config; the report is {@code decide}'s with the output size. */
    @Override
    public JsonNode commit(Parameters p, Plan plan, Map<String, UnitResult> units, CommitContext ctx) throws Exception {
        UnitResult d = units.get(DECIDE);
        List<LayerResult> layers = readDecisions(d.dir().resolve(DECISIONS));
        try (Checkpoint in = Checkpoint.open(ctx.input())) {
            ModelSpec spec = ModelSpec.of(in);
            List<TensorSpec> tensors = ExpertRemoval.tensors(TensorTable.of(in), spec, layers);
            TensorUnits.assemble(tensors, units, ctx.output(), in, ConfigEdit.apply(spec, layers), CheckpointWriter.Options.defaults());
            ObjectNode rep = ((ObjectNode) d.report()).deepCopy();
            rep.put("bytes_out", tensors.stream().mapToLong(TensorSpec::byteSize).sum());
            return rep;
        }
    }

    /** The decisions as the write units need them: per MoE layer, its expert count and the kept experts in order. */
    private static void writeDecisions(List<LayerResult> layers, Path file) throws java.io.IOException {
        var arr = Json.PRETTY.createArrayNode();
        for (LayerResult l : layers) {
            ObjectNode o = arr.addObject();
            o.put("layer", l.layer());
            o.put("experts", l.experts());
            var kept = o.putArray("kept");
            for (KeptExpert k : l.kept()) {
                ObjectNode e = kept.addObject();
                e.put("source", k.source());
                var m = e.putArray("members");
                for (int x : k.members()) {
                    m.add(x);
                }
                e.put("averaged", k.averaged());
            }
        }
        Json.PRETTY.writeValue(file.toFile(), arr);
    }

    private static List<LayerResult> readDecisions(Path file) throws java.io.IOException {
        List<LayerResult> out = new ArrayList<>();
        for (JsonNode o : Json.STRICT.readTree(file.toFile())) {
            List<KeptExpert> kept = new ArrayList<>();
            for (JsonNode e : o.path("kept")) {
                int[] members = new int[e.path("members").size()];
                for (int i = 0; i < members.length; i++) {
                    members[i] = e.path("members").get(i).asInt();
                }
                kept.add(new KeptExpert(e.path("source").asInt(), members, e.path("averaged").asBoolean()));
            }
            out.add(new LayerResult(o.path("layer").asInt(), o.path("experts").asInt(), kept, null, Double.NaN));
        }
        return out;
    }

    /** The {@code decide} unit: statistics (if the method needs them), then every layer's decision, written to {@code dir}. */
    private static JsonNode decide(Parameters p, Path input, Path dir, StageContext ctx) throws java.io.IOException {
        return decideOrRun(p, input, dir, null, ctx);
    }

    /** The whole stage in one call (statistics, decisions, removal): what the units together reproduce. */
    JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) throws java.io.IOException {
        return decideOrRun(p, input, null, output, ctx);
    }

    private static JsonNode decideOrRun(Parameters p, Path input, Path decisions, Path output, StageContext ctx) throws java.io.IOException {
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
            ExpertPruneReport r;
            if (output != null) {
                r = ExpertPruning.run(in, ModelSpec.of(in), output, m, p.options(ctx.seed()), stats, CheckpointWriter.Options.defaults());
            } else {
                r = ExpertPruning.plan(in, ModelSpec.of(in), m, p.options(ctx.seed()), stats);
                writeDecisions(r.layers(), decisions.resolve(DECISIONS));
            }
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
