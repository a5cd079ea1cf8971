package dev.moekit.distill.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.distill.Losses;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.slim.Selection;
import dev.moekit.distill.slim.Sensitivity;
import dev.moekit.distill.slim.SlimMoe;
import dev.moekit.distill.slim.SlimWriter;
import dev.moekit.distill.slim.Target;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Recipe stage {@code slim}: SlimMoE. Every routed (and shared) expert keeps the same fraction of its FFN neurons, its
 * own indices; attention keeps {@code kv_groups} whole GQA groups per layer; each of {@code stages} rounds scores the
 * units by first-order sensitivity, removes the weights and distils the result towards the input model with top-k KD
 * for its share of {@code distill_tokens}. {@code stages: 1} is one-shot slimming plus distillation;
 * {@code distill_tokens: 0} only slims.
 *
 * <pre>{@code
 * stages:
 *   - slim: {expert_ffn: 0.25, kv_groups: 3, stages: 2, distill_tokens: 4000000, lr: 1.0e-4}
 * }</pre>
 */
public final class SlimStage extends SingleUnitStage<SlimStage.Parameters> {
    /** Parameters; the distillation ones mean what they mean in the {@code distill} stage. */
    public record Parameters(
            @Doc("fraction of today's expert FFN width kept, in (0, 1] (SlimMoE Phi-mini-MoE: 960/6400 = 0.15)") Double expertFfn,
            @Doc("KV groups (a KV head with its query heads) kept per layer; default all") Integer kvGroups,
            @Doc("prune-then-distill rounds; intermediate widths between the input's and the target") Integer stages,
            @Doc("training tokens over all rounds, split evenly unless stage_tokens is given; 0: slim only") Long distillTokens,
            @Doc("training tokens of each round (overrides the even split of distill_tokens)") List<Long> stageTokens,
            @Doc("spacing of intermediate expert widths: geometric (default) or linear") Target.Widths widths,
            @Doc("calibration windows whose gradients score the units, per round") Integer scoreWindows,
            @Doc("loss of the scores: auto (CE while the model is the original, then KD against it), kd or ce") Sensitivity.ScoreLoss scoreLoss,
            @Doc("parameter groups that train in the distillation rounds (default all)") String train,
            @Doc("windows per forward (micro-batch), scoring and training") Integer batchSize,
            @Doc("micro-batches per optimizer step") Integer accumulation,
            @Doc("tokens per window (default: the recipe's calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("peak learning rate of each round (AdamW, cosine decay)") Double lr,
            @Doc("final learning rate of each round (default lr/10)") Double minLr,
            @Doc("linear warm-up steps of each round") Integer warmup,
            @Doc("decoupled weight decay on matrices") Double weightDecay,
            @Doc("global gradient-norm clip, 0 for none") Double clip,
            @Doc("weight of the top-k KD loss") Double kdWeight,
            @Doc("weight of next-token cross-entropy") Double ceWeight,
            @Doc("teacher logits kept per position for KD and KD scores (SlimMoE: 8)") Integer topK,
            @Doc("KD temperature") Double temperature,
            @Doc("compute dtype: fp32 or fp16; default fp32 on CPU, fp16 on GPU") String precision) {
        public Parameters {
            expertFfn = expertFfn == null ? 0.5 : expertFfn;
            stages = stages == null ? 2 : stages;
            distillTokens = distillTokens == null ? (stageTokens == null ? 0L : stageTokens.stream().mapToLong(Long::longValue).sum()) : distillTokens;
            widths = widths == null ? Target.Widths.GEOMETRIC : widths;
            scoreWindows = scoreWindows == null ? 32 : scoreWindows;
            scoreLoss = scoreLoss == null ? Sensitivity.ScoreLoss.AUTO : scoreLoss;
            train = train == null ? "all" : train;
            batchSize = batchSize == null ? 8 : batchSize;
            accumulation = accumulation == null ? 1 : accumulation;
            windowsPerFile = windowsPerFile == null ? 0 : windowsPerFile;
            lr = lr == null ? 1e-4 : lr;
            minLr = minLr == null ? lr / 10 : minLr;
            warmup = warmup == null ? 0 : warmup;
            weightDecay = weightDecay == null ? 0.01 : weightDecay;
            clip = clip == null ? 1.0 : clip;
            kdWeight = kdWeight == null ? 1.0 : kdWeight;
            ceWeight = ceWeight == null ? 0.0 : ceWeight;
            topK = topK == null ? 8 : topK;
            temperature = temperature == null ? 1.0 : temperature;
            if (!(expertFfn > 0 && expertFfn <= 1)) {
                throw new IllegalArgumentException("expert_ffn must be in (0, 1], got " + expertFfn);
            }
            if (kvGroups != null && kvGroups < 1) {
                throw new IllegalArgumentException("kv_groups must be >= 1, got " + kvGroups);
            }
            if (stages < 1 || distillTokens < 0 || scoreWindows < 1 || batchSize < 1 || accumulation < 1 || windowsPerFile < 0) {
                throw new IllegalArgumentException("stages, score_windows, batch_size and accumulation must be >= 1, distill_tokens and windows_per_file >= 0");
            }
            if (window != null && window < 2) {
                throw new IllegalArgumentException("window must be >= 2, got " + window);
            }
            if (stageTokens != null) {
                stageTokens = List.copyOf(stageTokens);
                if (stageTokens.size() != stages) {
                    throw new IllegalArgumentException("stage_tokens has " + stageTokens.size() + " entries for " + stages + " stages");
                }
                long sum = stageTokens.stream().mapToLong(Long::longValue).sum();
                if (stageTokens.stream().anyMatch(t -> t < 0) || sum != distillTokens) {
                    throw new IllegalArgumentException("stage_tokens " + stageTokens + " must be >= 0 and add up to distill_tokens " + distillTokens);
                }
            }
            if (distillTokens > 0 && kdWeight == 0 && ceWeight == 0) {
                throw new IllegalArgumentException("kd_weight and ce_weight are both 0: the distillation rounds would learn nothing");
            }
            ParamGroup.parse(train);
            if (precision != null) {
                Precision.parse(precision);
            }
            if (kdWeight > 0 || ceWeight > 0) {
                new Losses(kdWeight, ceWeight, topK, temperature, Losses.KdSupport.TOPK, 0, 0);   // validates
            }
            new Optim(lr, minLr, warmup, weightDecay, 0.9, 0.95, 1e-8, clip);
        }

        /** Each round's training tokens. */
        List<Long> perStage() {
            if (stageTokens != null) {
                return stageTokens;
            }
            List<Long> t = new ArrayList<>(Collections.nCopies(stages, distillTokens / stages));
            t.set(stages - 1, distillTokens - distillTokens / stages * (stages - 1));
            return t;
        }

        /** The distillation objective (with both weights 0, nothing trains; top_k and temperature still serve the KD scores). */
        Losses losses() {
            double kd = kdWeight == 0 && ceWeight == 0 ? 1 : kdWeight;
            return new Losses(kd, ceWeight, topK, temperature, Losses.KdSupport.TOPK, 0, 0);
        }
    }

    public SlimStage() {
        super("slim", "SlimMoE: slim every expert's FFN and drop whole GQA groups by first-order KD sensitivity, in prune-then-distill rounds",
                "https://arxiv.org/abs/2506.18349", Parameters.class, Calibration.REQUIRED);
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        ModelSpec spec = in.layout().spec();
        Target t = Target.of(spec, p.expertFfn(), p.kvGroups());
        List<Target> rounds = Target.schedule(spec, t, p.stages(), p.widths());
        Selection sel = Selection.prefix(spec, t);
        List<TensorSpec> tensors = SlimWriter.tensors(in.layout().tensors(), spec, sel);
        Layout out = new Layout(SlimWriter.config(spec, sel), tensors, in.layout().facts(), in.layout().exact());
        out.spec();                                               // the planned output parses as its family
        List<String> notes = new ArrayList<>();
        if (p.distillTokens() == 0) {
            notes.add("distill_tokens 0: slimming only, no training");
        }
        if (t.ffn() == Target.of(spec).ffn() && t.kvGroups() == spec.kvHeads()) {
            notes.add("expert_ffn and kv_groups keep every unit: the output equals the input");
        }
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("expert_ffn", t.ffn());
        d.put("shared_ffn", t.sharedFfn());
        d.put("kv_groups", t.kvGroups());
        d.put("heads", t.kvGroups() * (spec.heads() / spec.kvHeads()));
        var r = d.putArray("rounds");
        List<Long> tokens = p.perStage();
        for (int i = 0; i < rounds.size(); i++) {
            r.addObject().put("expert_ffn", rounds.get(i).ffn()).put("kv_groups", rounds.get(i).kvGroups()).put("tokens", tokens.get(i));
        }
        d.put("parameters_in", in.layout().tensors().stream().mapToLong(TensorSpec::numel).sum());
        d.put("parameters_out", tensors.stream().mapToLong(TensorSpec::numel).sum());
        d.put("window", p.window() == null ? ctx.calibration().window() : p.window());
        return new Planned(out, true, notes, d);
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        ModelSpec spec;
        try (var c = dev.moekit.toolkit.io.Checkpoint.open(input)) {
            spec = ModelSpec.of(c);
        }
        int window = p.window() == null ? ctx.calibration().window() : p.window();
        List<Path> files = ctx.calibration().data().stream().map(Path::of).toList();
        var device = RuntimeOptions.parseDevice(ctx.device());
        SlimMoe.Settings s = new SlimMoe.Settings(Target.of(spec, p.expertFfn(), p.kvGroups()), p.stages(), p.widths(), p.perStage(),
                new TrainData.TextFiles(files, window, p.windowsPerFile()), p.scoreWindows(), p.scoreLoss(), ParamGroup.parse(p.train()),
                p.batchSize(), p.accumulation(), p.losses(), new Optim(p.lr(), p.minLr(), p.warmup(), p.weightDecay(), 0.9, 0.95, 1e-8, p.clip()),
                device, p.precision() == null ? null : Precision.parse(p.precision()), ctx.seed());
        SlimMoe.Run r = SlimMoe.run(s, input, output, output.resolveSibling("slim-rounds"), ctx.events());
        ctx.info("slim: " + r.report().path("summary").asText());
        return r.report();
    }
}
