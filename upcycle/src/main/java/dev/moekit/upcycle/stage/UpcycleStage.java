package dev.moekit.upcycle.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.upcycle.Assembly;
import dev.moekit.upcycle.Training;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

/**
 * Recipe stage {@code upcycle}: sparse upcycling (Komatsuzaki et al. 2023). Every expert is an exact copy of the
 * dense MLP, each MoE layer gets a new router {@code N(0, initializer_range)}; attention, norms and embeddings are
 * copied. {@code layers: all} writes a Mixtral checkpoint, {@code every_other} a Qwen2-MoE one with
 * {@code decoder_sparse_step: 2}. Top-k weights are renormalised, so before training the MoE computes the dense
 * model's function (identical experts, weights summing to 1). With {@code train_tokens > 0} the MoE is then trained
 * on the calibration text (next-token loss plus load balancing) through the distillation engine.
 *
 * <pre>{@code
 * model: ../shared/models/llama-tiny-seed
 * stages:
 *   - upcycle: {experts: 8, top_k: 2, layers: all, train_tokens: 200000}
 * }</pre>
 */
public final class UpcycleStage extends UpcycleStageBase<UpcycleStage.Parameters> {
    /** Parameters. */
    public record Parameters(
            @Doc("experts per MoE layer, each a copy of the dense MLP") Integer experts,
            @Doc("experts per token") Integer topK,
            @Doc("which layers become MoE: all (Mixtral output) or every_other (Qwen2-MoE output, layers 1, 3, 5, ...)") Assembly.Layers layers,
            @Doc("standard deviation of the new routers (default: the seed's initializer_range, else 0.02)") Double routerStd,
            @Doc("training tokens after assembly, 0 to assemble only") Long trainTokens,
            @Doc("parameter groups that train: routers, experts, attention, mlp, norms, embeddings, all") String train,
            @Doc("windows per forward (micro-batch)") Integer batchSize,
            @Doc("micro-batches per optimizer step") Integer accumulation,
            @Doc("tokens per training window (default: the calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("peak learning rate (AdamW, cosine decay to lr/10)") Double lr,
            @Doc("linear warm-up steps") Integer warmup,
            @Doc("decoupled weight decay on matrices") Double weightDecay,
            @Doc("weight of the load-balancing loss") Double balanceWeight,
            @Doc("weight of the router z-loss") Double zLossWeight,
            @Doc("compute dtype fp32 or fp16 (default fp32 on CPU, fp16 on GPU)") String precision,
            @Doc("training-state folder; a run restarted with the same parameters resumes from it") String stateDir) {
        public Parameters {
            experts = experts == null ? 8 : experts;
            topK = topK == null ? 2 : topK;
            layers = layers == null ? Assembly.Layers.ALL : layers;
            routerStd = routerStd == null ? Double.NaN : routerStd;
            trainTokens = trainTokens == null ? 0L : trainTokens;
            train = train == null ? "all" : train;
            batchSize = batchSize == null ? 8 : batchSize;
            accumulation = accumulation == null ? 1 : accumulation;
            windowsPerFile = windowsPerFile == null ? 0 : windowsPerFile;
            lr = lr == null ? 1e-4 : lr;
            warmup = warmup == null ? 0 : warmup;
            weightDecay = weightDecay == null ? 0.01 : weightDecay;
            balanceWeight = balanceWeight == null ? 0.01 : balanceWeight;
            zLossWeight = zLossWeight == null ? 0.0 : zLossWeight;
            if (experts < 1 || experts > 4096) {
                throw new IllegalArgumentException("experts must be within 1..4096, got " + experts);
            }
            if (topK < 1 || topK > experts) {
                throw new IllegalArgumentException("top_k must be within 1..experts (" + experts + "), got " + topK);
            }
            if (!Double.isNaN(routerStd) && !(routerStd > 0)) {
                throw new IllegalArgumentException("router_std must be > 0, got " + routerStd);
            }
            UpcycleStageBase.trainingOf(trainTokens, train, batchSize, accumulation, window, windowsPerFile, lr, warmup, weightDecay,
                    balanceWeight, zLossWeight, precision, stateDir);
        }

        Training training() {
            return UpcycleStageBase.trainingOf(trainTokens, train, batchSize, accumulation, window, windowsPerFile, lr, warmup, weightDecay,
                    balanceWeight, zLossWeight, precision, stateDir);
        }
    }

    public UpcycleStage() {
        super("upcycle", "sparse upcycling: a dense model's MLP copied into E experts with new routers (Mixtral or Qwen2-MoE), optionally trained",
                "https://arxiv.org/abs/2212.05055", Parameters.class);
    }

    @Override
    protected Training training(Parameters p) {
        return p.training();
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", "sparse_upcycling");
        return planMoe(in, p.experts(), p.topK(), p.layers(), p.training(), ctx, d, List.of());
    }

    @Override
    protected Assembly.Spec assembly(Parameters p, Path input, List<Path> extra, StageContext ctx) {
        return new Assembly.Spec(Collections.nCopies(p.experts(), input), List.of(input), p.layers(), p.topK(), p.routerStd(), ctx.seed());
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        return assembleAndTrain(p, input, extra, output, ctx);
    }
}
