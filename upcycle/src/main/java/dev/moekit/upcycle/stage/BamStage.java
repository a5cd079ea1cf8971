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
import java.util.List;
import java.util.Locale;

/**
 * Recipe stage {@code bam}: Branch-Attend-Mix (Zhang et al. 2024). As {@link BtxStage}, plus each input's attention
 * becomes an attention expert of every layer in a soft mixture of attention: every token goes through every
 * attention expert, the outputs weighted by {@code softmax(W_r x)} of a new attention router. Expert-KV: each expert
 * its own q, k, v, o; Shared-KV: per-expert q and o, k and v the average of the inputs'. FFN experts are routed top-1
 * (the paper) or top-2, trained with the load-balancing loss and the router z-loss. The seed's block is sequential
 * (attention, then MLP), so that is the default; {@code parallel: true} takes the paper's parallel block (attention
 * and MLP read the same input), which changes the function and needs training.
 *
 * <p>No stock transformers class runs this: the output is family {@code moekit_bam} ({@code MoekitBamForCausalLM})
 * with its own modeling code ({@code configuration_moekit_bam.py}, {@code modeling_moekit_bam.py}, {@code auto_map}),
 * loaded with {@code trust_remote_code=True}; moekit's runtime evaluates and trains it natively.
 *
 * <pre>{@code
 * model: ../shared/models/llama-tiny-seed
 * stages:
 *   - bam: {experts: [llama-tiny-python, llama-tiny-kernel], attention: shared_kv, train_tokens: 200000}
 * }</pre>
 */
public final class BamStage extends UpcycleStageBase<BamStage.Parameters> {
    /** How the attention experts hold keys and values. */
    public enum AttentionKind { EXPERT_KV, SHARED_KV }

    /** Parameters. */
    public record Parameters(
            @Doc("specialist checkpoints branched from the seed (the recipe's model), one FFN and one attention expert each; relative paths resolve against the recipe's model folder's parent") List<String> experts,
            @Doc("the seed as one more expert (FFN and attention)") Boolean includeSeed,
            @Doc("what norms, embeddings (and Shared-KV's k, v) average: all (seed and specialists) or specialists") BtxStage.Average average,
            @Doc("attention experts: expert_kv (own q, k, v, o) or shared_kv (own q, o; averaged k, v)") AttentionKind attention,
            @Doc("the paper's parallel attention block (attention and MLP read the same input); default the seed's sequential block") Boolean parallel,
            @Doc("FFN experts per token (BAM: 1)") Integer topK,
            @Doc("standard deviation of the new routers, FFN and attention (default: the seed's initializer_range, else 0.02)") Double routerStd,
            @Doc("MoE fine-tuning tokens, 0 to assemble only") Long trainTokens,
            @Doc("what trains: routers (FFN and attention routers) or all; any parameter groups, comma-separated") String train,
            @Doc("windows per forward (micro-batch)") Integer batchSize,
            @Doc("micro-batches per optimizer step") Integer accumulation,
            @Doc("tokens per training window (default: the calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("peak learning rate (AdamW, cosine decay to lr/10)") Double lr,
            @Doc("linear warm-up steps") Integer warmup,
            @Doc("decoupled weight decay on matrices") Double weightDecay,
            @Doc("weight of the FFN load-balancing loss") Double balanceWeight,
            @Doc("weight of the FFN router z-loss") Double zLossWeight,
            @Doc("compute dtype fp32 or fp16 (default fp32 on CPU, fp16 on GPU)") String precision,
            @Doc("training-state folder; a run restarted with the same parameters resumes from it") String stateDir) {
        public Parameters {
            experts = experts == null ? List.of() : List.copyOf(experts);
            includeSeed = includeSeed == null ? Boolean.TRUE : includeSeed;
            average = average == null ? BtxStage.Average.ALL : average;
            attention = attention == null ? AttentionKind.EXPERT_KV : attention;
            parallel = parallel == null ? Boolean.FALSE : parallel;
            topK = topK == null ? 1 : topK;
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
            zLossWeight = zLossWeight == null ? 0.001 : zLossWeight;
            int n = experts.size() + (includeSeed ? 1 : 0);
            if (n > 0 && (topK < 1 || topK > n)) {
                throw new IllegalArgumentException("top_k must be within 1.." + n + " experts, got " + topK);
            }
            if (!Double.isNaN(routerStd) && !(routerStd > 0)) {
                throw new IllegalArgumentException("router_std must be > 0, got " + routerStd);
            }
            if (average == BtxStage.Average.SPECIALISTS && experts.isEmpty()) {
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

        Assembly.Bam bam() {
            return new Assembly.Bam(attention == AttentionKind.SHARED_KV, parallel);
        }
    }

    public BamStage() {
        super("bam", "Branch-Attend-Mix: BTX plus the inputs' attention as soft-routed attention experts (Expert-KV or Shared-KV); own modeling code (trust_remote_code)",
                "https://arxiv.org/abs/2408.08274", Parameters.class);
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
            throw new IllegalArgumentException("bam needs experts: a list of specialist checkpoints (and/or include_seed: true)");
        }
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", "bam");
        d.put("specialists", p.experts().size());
        d.put("include_seed", p.includeSeed());
        d.put("average", p.average().name().toLowerCase(Locale.ROOT));
        d.put("attention", p.attention().name().toLowerCase(Locale.ROOT));
        d.put("parallel", p.parallel());
        List<String> notes = p.parallel() && !p.training().trains()
                ? List.of("parallel: true changes the seed's sequential block; without training the model is not the inputs' function")
                : List.of();
        return planMoe(in, p.expertCount(), p.topK(), Assembly.Layers.ALL, p.bam(), p.training(), ctx, d, notes);
    }

    @Override
    protected Assembly.Spec assembly(Parameters p, Path input, List<Path> extra, StageContext ctx) {
        return BtxStage.assembly(p.includeSeed(), p.average(), p.topK(), p.routerStd(), input, extra, ctx.seed(), p.bam());
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        return assembleAndTrain(p, input, extra, output, ctx);
    }
}
