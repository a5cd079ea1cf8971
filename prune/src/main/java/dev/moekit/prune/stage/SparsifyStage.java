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
import dev.moekit.prune.sparse.BoundSparsifier;
import dev.moekit.prune.sparse.EmptyExpertPolicy;
import dev.moekit.prune.sparse.Sparsifier;
import dev.moekit.prune.sparse.SparsityOptions;
import dev.moekit.prune.sparse.SparsityReport;
import dev.moekit.prune.sparse.UnstructuredPruner;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.Params;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Recipe stage {@code sparsify}: unstructured or N:M pruning of the decoder Linears with a registered
 * {@link Sparsifier} (wanda, owl), sequential layer by layer on calibration text, as STUN's second stage. The stage's
 * own keys are {@code method}, the target ({@code sparsity}, {@code total_sparsity} or {@code nm}) and the scope; every
 * other key belongs to the method ({@code owl_m}, {@code owl_lambda}).
 *
 * <p>{@code sparsity} is the fraction of zeros in the Linear weights of this stage's input; {@code total_sparsity} is
 * measured against the recipe's original model instead, counting the weights removed by an earlier expert-pruning stage
 * as pruned: {@code s = (T * N_orig - (N_orig - N_in)) / N_in}, with N the decoder Linear parameters (attention,
 * routers, experts, dense MLPs). That is how STUN states "40% total sparsity" for STUN+OWL. It is resolved when the
 * stage is planned, from the planned input layout, so an unreachable total fails before anything runs.
 *
 * <pre>{@code
 * stages:
 *   - prune: {method: stun, experts: 0.25}
 *   - sparsify: {method: owl, total_sparsity: 0.4}
 * }</pre>
 */
public final class SparsifyStage extends SingleUnitStage<SparsifyStage.Parameters> {
    static final String NAME = "sparsify";

    /**
     * @param method           registered sparsifier (default wanda): wanda or owl
     * @param sparsity         zeros per pruned Linear of this stage's input, in (0, 1)
     * @param totalSparsity    instead of {@code sparsity}: the overall target against the recipe's original model
     * @param nm               N:M semi-structured pattern such as "2:4" (methods that support it: wanda), instead of a sparsity
     * @param includeRouter    prune router and shared-expert gate Linears (default true, as the reference code)
     * @param includeAttention prune attention Linears (default true, as the reference code)
     * @param emptyExperts     Linears with no calibration tokens: skip_dense (default, as the reference) or magnitude
     * @param methodParams     the method's own parameters, given as keys beside these (never under this name)
     */
    public record Parameters(
            @Doc("sparsifier: wanda or owl") String method,
            @Doc("zeros per pruned Linear of this stage's input, in (0, 1)") Double sparsity,
            @Doc("instead of sparsity: the overall target against the recipe's original model") Double totalSparsity,
            @Doc("instead of a sparsity: N:M semi-structured pattern such as 2:4 (wanda)") String nm,
            @Doc("prune router and shared-expert gate Linears") Boolean includeRouter,
            @Doc("prune attention Linears") Boolean includeAttention,
            @Doc("Linears without calibration tokens: skip_dense or magnitude") EmptyExpertPolicy emptyExperts,
            @JsonIgnore @Doc("the method's own keys, given beside these (see moekit methods sparsifier)") Record methodParams) {
        public Parameters {
            method = method == null ? "wanda" : method;
            int given = (sparsity == null ? 0 : 1) + (totalSparsity == null ? 0 : 1) + (nm == null ? 0 : 1);
            if (given != 1) {
                throw new IllegalArgumentException("give exactly one of 'sparsity', 'total_sparsity' or 'nm'");
            }
            if (nm != null && !nm.matches("\\d+:\\d+")) {
                throw new IllegalArgumentException("nm must look like 2:4, got '" + nm + "'");
            }
            if (totalSparsity != null && !(totalSparsity > 0 && totalSparsity < 1)) {
                throw new IllegalArgumentException("total_sparsity must be in (0, 1), got " + totalSparsity);
            }
            includeRouter = includeRouter == null || includeRouter;
            includeAttention = includeAttention == null || includeAttention;
            emptyExperts = emptyExperts == null ? EmptyExpertPolicy.SKIP_DENSE : emptyExperts;
            Sparsifier<?> s = Methods.standard().kind(Sparsifier.KIND).get(method);
            methodParams = methodParams == null ? s.defaults() : methodParams;
            BoundSparsifier.of(s, methodParams);
            if (nm != null && !s.supportsNm()) {
                throw new IllegalArgumentException(method + " does not prune N:M patterns (its layerwise ratios do not apply to N:M); use wanda");
            }
            shared(nm, sparsity != null ? sparsity : 0.5, includeRouter, includeAttention, emptyExperts); // fields are not set yet in here
        }

        /** The shared settings at stage sparsity {@code s} (ignored for N:M). */
        public SparsityOptions options(double s) {
            return shared(nm, s, includeRouter, includeAttention, emptyExperts);
        }

        private static SparsityOptions shared(String nm, double s, boolean router, boolean attention, EmptyExpertPolicy empty) {
            SparsityOptions base;
            if (nm != null) {
                String[] p = nm.split(":");
                base = SparsityOptions.nm(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            } else {
                base = SparsityOptions.of(s);
            }
            return base.withScope(router, attention).withEmptyExperts(empty);
        }

        /** The chosen method with its parameters. */
        public BoundSparsifier<?> sparsifier() {
            return BoundSparsifier.of(Methods.standard().kind(Sparsifier.KIND).get(method), methodParams);
        }

        /** The method's keys, flat beside the stage's in provenance and resume keys. */
        @JsonAnyGetter
        Map<String, Object> methodKeys() {
            Map<String, Object> m = new LinkedHashMap<>();
            Params.toJson(methodParams).properties().forEach(e -> m.put(e.getKey(), e.getValue()));
            return m;
        }
    }

    public SparsifyStage() {
        super(NAME, "unstructured (wanda, owl) or N:M pruning of Linear weights, sequential on calibration text", "",
                Parameters.class, Calibration.REQUIRED);
    }

    @Override
    public Parameters bind(JsonNode raw) {
        MethodKeys.Split<Sparsifier<?>> s = MethodKeys.split(NAME, raw, Parameters.class, Sparsifier.KIND, "wanda", Map.of());
        Record mp = s.method().bind(s.params());
        Parameters k = Params.bind(NAME, s.stage(), Parameters.class);
        try {
            return new Parameters(k.method(), k.sparsity(), k.totalSparsity(), k.nm(), k.includeRouter(), k.includeAttention(),
                    k.emptyExperts(), mp);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("stage '" + NAME + "': " + e.getMessage(), e);
        }
    }

    /** Stage sparsity that reaches {@code total} against the original, given what earlier stages removed. */
    static double stageSparsity(double total, long original, long current) {
        double s = (total * original - (original - current)) / current;
        if (!(s > 0 && s < 1)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "total_sparsity %.3f cannot be reached: earlier stages already removed %.1f%% of the Linear weights", total,
                    100.0 * (original - current) / original));
        }
        return s;
    }

    /**
     * The resolved target of this stage on {@code input}: the stage sparsity, with the original's and the input's
     * decoder Linear parameters when the target is total (metadata only).
     */
    private record Target(double stage, long original, long current) {}

    private static Target target(Parameters p, Layout input, StageContext ctx) {
        if (p.totalSparsity() == null) {
            return new Target(p.sparsity() != null ? p.sparsity() : 0, 0, 0);
        }
        long orig;
        try (Checkpoint c = Checkpoint.open(ctx.original())) {
            orig = Layout.of(c).linearParams();
        }
        long cur = input.linearParams();
        return new Target(stageSparsity(p.totalSparsity(), orig, cur), orig, cur);
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput input, StageContext ctx) {
        Layout in = input.layout();
        if (in.facts().fused()) {
            throw new IllegalArgumentException("unstructured pruning of fused 3-D expert tensors is not supported; convert to the per-expert layout first");
        }
        Target t = target(p, in, ctx);
        SparsityOptions o = p.options(t.stage());
        BoundSparsifier<?> m = p.sparsifier();
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", m.name());
        d.set("method_params", m.paramsJson());
        d.set("options", Params.toJson(o));
        List<String> notes = new ArrayList<>();
        if (p.totalSparsity() != null) {
            d.put("total_sparsity_target", p.totalSparsity());
            d.put("removed_before", (double) (t.original() - t.current()) / t.original());
            notes.add(String.format(Locale.ROOT, "total sparsity %.2f: earlier stages removed %.1f%%, this stage prunes %.1f%%",
                    p.totalSparsity(), 100.0 * (t.original() - t.current()) / t.original(), 100 * t.stage()));
        }
        d.put("stage_sparsity_target", o.sparsity());
        return new Planned(in, true, notes, d);
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        ObjectNode rep;
        try (Checkpoint in = Checkpoint.open(input)) {
            Target t = target(p, Layout.of(in), ctx);
            if (p.totalSparsity() != null) {
                ctx.info(String.format(Locale.ROOT, "total sparsity %.2f: earlier stages removed %.1f%%, this stage prunes %.1f%%",
                        p.totalSparsity(), 100.0 * (t.original() - t.current()) / t.original(), 100 * t.stage()));
            }
            SparsityOptions o = p.options(t.stage());
            try (CalibratedModel cm = CalibratedModel.open(input, ctx)) {
                SparsityReport r = UnstructuredPruner.run(in, ModelSpec.of(in), output, p.sparsifier(), o, cm, CheckpointWriter.Options.defaults());
                rep = r.toJson();
                if (p.totalSparsity() != null) {
                    rep.put("total_sparsity_target", p.totalSparsity());
                }
                rep.put("stage_sparsity_target", o.sparsity());
                String summary = String.format(Locale.ROOT, "nominal sparsity %.1f%% of decoder Linear weights; %d Linear(s) left dense for lack of tokens",
                        100 * r.nominalSparsity(), r.denseForLackOfTokens().size());
                ctx.info(summary);
                rep.put("summary", summary);
            }
        }
        return rep;
    }
}
