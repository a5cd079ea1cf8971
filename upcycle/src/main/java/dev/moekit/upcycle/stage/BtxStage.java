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
import java.util.ArrayList;
import java.util.List;

/**
 * Recipe stage {@code btx}: Branch-Train-MiX (Sukhbaatar et al. 2024). The recipe's model is the seed; each
 * specialist branched from it becomes one expert in every layer (the seed one more with {@code include_seed}), in
 * the order listed, seed last; attention, norms and embeddings are the uniform average of the seed and the
 * specialists ({@code average: all}) or of the specialists only; routers are new, top-2 by default. With
 * {@code train_tokens > 0} the MoE is fine-tuned on the calibration text with next-token loss plus the
 * load-balancing loss (alpha 0.01), training the routers only or everything. Output: a stock Mixtral checkpoint.
 *
 * <pre>{@code
 * model: ../shared/models/llama-tiny-seed
 * stages:
 *   - btx: {experts: [../llama-tiny-python, ../llama-tiny-kernel], include_seed: true, train_tokens: 200000}
 * }</pre>
 */
public final class BtxStage extends UpcycleStageBase<BtxStage.Parameters> {
    /** Which dense inputs are averaged into attention, norms and embeddings. */
    public enum Average { ALL, SPECIALISTS }

    /** Parameters. */
    public record Parameters(
            @Doc("specialist checkpoints branched from the seed (the recipe's model), one expert each; relative paths resolve against the recipe's model folder's parent") List<String> experts,
            @Doc("the seed as one more expert (BTX's generalist)") Boolean includeSeed,
            @Doc("what attention, norms and embeddings average: all (seed and specialists) or specialists") Average average,
            @Doc("experts per token (default 2, or 1 with a single expert)") Integer topK,
            @Doc("standard deviation of the new routers (default: the seed's initializer_range, else 0.02)") Double routerStd,
            @Doc("MoE fine-tuning tokens, 0 to assemble only") Long trainTokens,
            @Doc("what trains: routers (only the new routers) or all; any parameter groups, comma-separated") String train,
            @Doc("windows per forward (micro-batch)") Integer batchSize,
            @Doc("micro-batches per optimizer step") Integer accumulation,
            @Doc("tokens per training window (default: the calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("peak learning rate (AdamW, cosine decay to lr/10)") Double lr,
            @Doc("linear warm-up steps") Integer warmup,
            @Doc("decoupled weight decay on matrices") Double weightDecay,
            @Doc("weight of the load-balancing loss (BTX: 0.01)") Double balanceWeight,
            @Doc("weight of the router z-loss") Double zLossWeight,
            @Doc("compute dtype fp32 or fp16 (default fp32 on CPU, fp16 on GPU)") String precision,
            @Doc("training-state folder; a run restarted with the same parameters resumes from it") String stateDir) {
        public Parameters {
            experts = experts == null ? List.of() : List.copyOf(experts);
            includeSeed = includeSeed == null ? Boolean.TRUE : includeSeed;
            average = average == null ? Average.ALL : average;
            int n = experts.size() + (includeSeed ? 1 : 0);
            topK = topK == null ? Math.max(1, Math.min(2, n)) : topK;
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
            if (n > 0 && (topK < 1 || topK > n)) {
                throw new IllegalArgumentException("top_k must be within 1.." + n + " experts, got " + topK);
            }
            if (!Double.isNaN(routerStd) && !(routerStd > 0)) {
                throw new IllegalArgumentException("router_std must be > 0, got " + routerStd);
            }
            if (average == Average.SPECIALISTS && experts.isEmpty()) {
                throw new IllegalArgumentException("average: specialists needs at least one specialist in experts");
            }
            UpcycleStageBase.trainingOf(trainTokens, train, batchSize, accumulation, window, windowsPerFile, lr, warmup, weightDecay,
                    balanceWeight, zLossWeight, precision, stateDir);
        }

        Training training() {
            return UpcycleStageBase.trainingOf(trainTokens, train, batchSize, accumulation, window, windowsPerFile, lr, warmup, weightDecay,
                    balanceWeight, zLossWeight, precision, stateDir);
        }

        int expertCount() {
            return experts.size() + (includeSeed ? 1 : 0);
        }
    }

    public BtxStage() {
        super("btx", "Branch-Train-MiX: specialists' MLPs as the experts of every layer, averaged attention/norms/embeddings, new top-2 routers, MoE fine-tuning (Mixtral output)",
                "https://arxiv.org/abs/2403.07816", Parameters.class);
    }

    @Override
    public List<String> extraInputs(Parameters p) {
        return p.experts();
    }

    @Override
    protected Training training(Parameters p) {
        return p.training();
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        if (p.expertCount() < 1) {
            throw new IllegalArgumentException("btx needs experts: a list of specialist checkpoints (and/or include_seed: true)");
        }
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", "btx");
        d.put("specialists", p.experts().size());
        d.put("include_seed", p.includeSeed());
        d.put("average", p.average().name().toLowerCase(java.util.Locale.ROOT));
        return planMoe(in, p.expertCount(), p.topK(), Assembly.Layers.ALL, p.training(), ctx, d, List.of());
    }

    @Override
    protected Assembly.Spec assembly(Parameters p, Path input, List<Path> extra, StageContext ctx) {
        return assembly(p.includeSeed(), p.average(), p.topK(), p.routerStd(), input, extra, ctx.seed());
    }

    /** Experts: the specialists in order, then the seed; averaged: seed and specialists, or the specialists. */
    static Assembly.Spec assembly(boolean includeSeed, Average average, int topK, double routerStd, Path input, List<Path> extra, long seed) {
        return assembly(includeSeed, average, topK, routerStd, input, extra, seed, null);
    }

    static Assembly.Spec assembly(boolean includeSeed, Average average, int topK, double routerStd, Path input, List<Path> extra, long seed,
                                  Assembly.Bam bam) {
        List<Path> experts = new ArrayList<>(extra);
        if (includeSeed) {
            experts.add(input);
        }
        List<Path> averaged = new ArrayList<>();
        if (average == Average.ALL) {
            averaged.add(input);
        }
        averaged.addAll(extra);
        return new Assembly.Spec(experts, averaged, Assembly.Layers.ALL, topK, routerStd, seed, bam);
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        return assembleAndTrain(p, input, extra, output, ctx);
    }
}
