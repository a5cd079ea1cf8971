package dev.moekit.prune.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.calib.RuntimeSequentialCalibration;
import dev.moekit.prune.sparse.EmptyExpertPolicy;
import dev.moekit.prune.sparse.SparsityMethod;
import dev.moekit.prune.sparse.SparsityOptions;
import dev.moekit.prune.sparse.SparsityReport;
import dev.moekit.prune.sparse.UnstructuredPruner;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.RecordStage;
import dev.moekit.toolkit.method.StageContext;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ParamCount;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Locale;

/**
 * Recipe stage {@code sparsify}: unstructured (Wanda, OWL) or N:M pruning, sequential layer by layer on calibration
 * text, as STUN's second stage.
 *
 * <p>{@code sparsity} is the fraction of zeros in the Linear weights of this stage's input; {@code total_sparsity} is
 * measured against the recipe's original model instead, counting the weights removed by an earlier expert-pruning stage
 * as pruned: {@code s = (T * N_orig - (N_orig - N_in)) / N_in}, with N the decoder Linear parameters (attention,
 * routers, experts, dense MLPs). That is how STUN states "40% total sparsity" for STUN+OWL.
 *
 * <pre>{@code
 * stages:
 *   - prune: {method: stun, experts: 0.25}
 *   - sparsify: {method: owl, total_sparsity: 0.4}
 * }</pre>
 */
public final class SparsifyStage extends RecordStage<SparsifyStage.Parameters> {
    private static final EnumSet<Role.Kind> LINEAR_KINDS = EnumSet.of(Role.Kind.ATTENTION, Role.Kind.DENSE_MLP,
            Role.Kind.ROUTER, Role.Kind.ROUTED_EXPERT, Role.Kind.SHARED_EXPERT);

    /**
     * @param method           wanda (default) or owl
     * @param sparsity         zeros per pruned Linear of this stage's input, in (0, 1)
     * @param totalSparsity    instead of {@code sparsity}: the overall target against the recipe's original model
     * @param nm               N:M semi-structured pattern such as "2:4" (Wanda only), instead of a sparsity
     * @param owlM             OWL outlier multiple M (default 5)
     * @param owlLambda        OWL spread lambda (default 0.08)
     * @param includeRouter    prune router and shared-expert gate Linears (default true, as the reference code)
     * @param includeAttention prune attention Linears (default true, as the reference code)
     * @param emptyExperts     Linears with no calibration tokens: skip_dense (default, as the reference) or magnitude
     */
    public record Parameters(SparsityMethod method, Double sparsity, Double totalSparsity, String nm, Double owlM,
                             Double owlLambda, Boolean includeRouter, Boolean includeAttention, EmptyExpertPolicy emptyExperts) {
        public Parameters {
            method = method == null ? SparsityMethod.WANDA : method;
            int given = (sparsity == null ? 0 : 1) + (totalSparsity == null ? 0 : 1) + (nm == null ? 0 : 1);
            if (given != 1) {
                throw new IllegalArgumentException("give exactly one of 'sparsity', 'total_sparsity' or 'nm'");
            }
            if (nm != null && !nm.matches("\\d+:\\d+")) {
                throw new IllegalArgumentException("nm must look like 2:4, got '" + nm + "'");
            }
        }

        SparsityOptions options(double s) {
            SparsityOptions base;
            if (nm != null) {
                String[] p = nm.split(":");
                base = SparsityOptions.nm(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            } else {
                base = method == SparsityMethod.OWL ? SparsityOptions.owl(s) : SparsityOptions.wanda(s);
            }
            base = new SparsityOptions(base.sparsity(), base.method(), base.nmN(), base.nmM(), owlM == null ? base.owlM() : owlM,
                    owlLambda == null ? base.owlLambda() : owlLambda, base.includeRouter(), base.includeAttention(), base.emptyExperts());
            base = base.withScope(includeRouter == null || includeRouter, includeAttention == null || includeAttention);
            return emptyExperts == null ? base : base.withEmptyExperts(emptyExperts);
        }
    }

    public SparsifyStage() {
        super("sparsify", "unstructured (wanda, owl) or N:M pruning of Linear weights, sequential on calibration text", Parameters.class);
    }

    /** Decoder Linear parameters (weights and biases of attention, routers, experts and dense MLPs). */
    static long linearParams(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            ParamCount pc = ParamCount.of(c, ModelSpec.of(c));
            return LINEAR_KINDS.stream().mapToLong(pc::params).sum();
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

    @Override
    protected void validate(Parameters p) {
        p.options(p.sparsity() != null ? p.sparsity() : p.totalSparsity() != null ? p.totalSparsity() : 0.5);
    }

    @Override
    protected JsonNode apply(Parameters p, Path input, Path output, StageContext ctx) {
        double s = p.sparsity() != null ? p.sparsity() : 0;
        ObjectNode rep = Json.PRETTY.createObjectNode();
        if (p.totalSparsity() != null) {
            long orig = linearParams(ctx.original());
            long cur = linearParams(input);
            s = stageSparsity(p.totalSparsity(), orig, cur);
            rep.put("total_sparsity_target", p.totalSparsity());
            ctx.info(String.format(Locale.ROOT, "total sparsity %.2f: earlier stages removed %.1f%%, this stage prunes %.1f%%",
                    p.totalSparsity(), 100.0 * (orig - cur) / orig, 100 * s));
        }
        SparsityOptions o = p.options(s);
        try (CalibratedModel cm = CalibratedModel.open(input, ctx); Checkpoint in = Checkpoint.open(input)) {
            SparsityReport r = UnstructuredPruner.run(in, ModelSpec.of(in), output, o,
                    new RuntimeSequentialCalibration(cm.model(), cm.batches()), CheckpointWriter.Options.defaults());
            rep.put("method", o.nmN() > 0 ? "wanda " + o.nmN() + ":" + o.nmM() : o.method().name().toLowerCase(Locale.ROOT));
            rep.put("stage_sparsity_target", o.sparsity());
            rep.put("nominal_sparsity", r.nominalSparsity());
            rep.put("linear_params", r.linearParams());
            rep.put("zeros", r.zeros());
            rep.put("bytes_out", r.bytesOut());
            rep.putPOJO("dense_for_lack_of_tokens", r.denseForLackOfTokens());
            rep.put("details", UnstructuredPruner.PROVENANCE);
            ctx.info(String.format(Locale.ROOT, "nominal sparsity %.1f%% of decoder Linear weights; %d Linear(s) left dense for lack of tokens",
                    100 * r.nominalSparsity(), r.denseForLackOfTokens().size()));
        }
        return rep;
    }
}
