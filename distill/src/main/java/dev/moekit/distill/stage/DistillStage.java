package dev.moekit.distill.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.distill.Losses;
import dev.moekit.distill.LossCurve;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TeacherCache;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.TrainReport;
import dev.moekit.distill.TrainSpec;
import dev.moekit.distill.Trainer;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Recipe stage {@code distill}: trains the chosen parameters of the input checkpoint towards a teacher's top-k
 * distribution (and/or the text) on the recipe's calibration files, through {@link Trainer}; writes the student in
 * its own layout and dtype. A thin adapter: parameters become a {@link TrainSpec}.
 *
 * <pre>{@code
 * stages:
 *   - prune: {method: stun, experts: 0.25}
 *   - distill: {teacher: ../mixtral, steps: 500, train: "experts,routers", lr: 1.0e-4}
 * }</pre>
 *
 * <p>Reports: the stage report (in the provenance) holds the run's summary, its numbers and the loss log as CSV text
 * ({@code loss_csv}) plus the loss chart as base64 PNG ({@code loss_png}); nothing is written into the checkpoint. The
 * {@code moekit distill} command writes both as files into {@code <output>.report/}. Resuming after a kill needs
 * {@code state_dir}: the runner gives every attempt a fresh unit folder, so training state kept there would be lost.
 */
public final class DistillStage extends SingleUnitStage<DistillStage.Parameters> {
    /** Parameters; see {@link TrainSpec}, {@link Losses} and {@link Optim} for the meaning of each. */
    public record Parameters(
            @Doc("teacher checkpoint folder (same tokenizer); relative paths are resolved against the recipe's model folder") String teacher,
            @Doc("optimizer steps") Integer steps,
            @Doc("windows per forward (micro-batch)") Integer batchSize,
            @Doc("micro-batches per optimizer step (gradient accumulation)") Integer accumulation,
            @Doc("tokens per training window (default: the recipe's calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("parameter groups that train, comma-separated: routers, experts, attention, mlp, norms, embeddings, all") String train,
            @Doc("peak learning rate (AdamW)") Double lr,
            @Doc("final learning rate of the cosine decay (default lr/10)") Double minLr,
            @Doc("linear warm-up steps") Integer warmup,
            @Doc("decoupled weight decay on matrices") Double weightDecay,
            @Doc("Adam beta1") Double beta1,
            @Doc("Adam beta2") Double beta2,
            @Doc("global gradient-norm clip, 0 for none") Double clip,
            @Doc("weight of the top-k KD loss") Double kdWeight,
            @Doc("weight of next-token cross-entropy") Double ceWeight,
            @Doc("teacher logits kept per position for KD (SlimMoE: 8)") Integer topK,
            @Doc("KD temperature") Double temperature,
            @Doc("student normalised over the teacher's top-k (topk) or over the vocabulary (full)") Losses.KdSupport kdSupport,
            @Doc("weight of the MoE load-balancing loss") Double balanceWeight,
            @Doc("weight of the router z-loss") Double zLossWeight,
            @Doc("compute dtype: fp32 or fp16 (fp32 masters, loss scaling); default fp32 on CPU, fp16 on GPU") String precision,
            @Doc("teacher top-k: cache (computed once per window), live (every step) or auto") TeacherCache teacherCache,
            @Doc("folder for training-state checkpoints; a run restarted with the same parameters resumes from it") String stateDir,
            @Doc("steps between training-state checkpoints (default steps/10 when state_dir is set)") Integer checkpointEvery) {
        public Parameters {
            steps = steps == null ? 100 : steps;
            batchSize = batchSize == null ? 8 : batchSize;
            accumulation = accumulation == null ? 1 : accumulation;
            windowsPerFile = windowsPerFile == null ? 0 : windowsPerFile;
            train = train == null ? "all" : train;
            lr = lr == null ? 1e-4 : lr;
            minLr = minLr == null ? lr / 10 : minLr;
            warmup = warmup == null ? 0 : warmup;
            weightDecay = weightDecay == null ? 0.01 : weightDecay;
            beta1 = beta1 == null ? 0.9 : beta1;
            beta2 = beta2 == null ? 0.95 : beta2;
            clip = clip == null ? 1.0 : clip;
            kdWeight = kdWeight == null ? (teacher == null ? 0.0 : 1.0) : kdWeight;
            ceWeight = ceWeight == null ? (teacher == null ? 1.0 : 0.0) : ceWeight;
            topK = topK == null ? 8 : topK;
            temperature = temperature == null ? 1.0 : temperature;
            kdSupport = kdSupport == null ? Losses.KdSupport.TOPK : kdSupport;
            balanceWeight = balanceWeight == null ? 0.0 : balanceWeight;
            zLossWeight = zLossWeight == null ? 0.0 : zLossWeight;
            teacherCache = teacherCache == null ? TeacherCache.AUTO : teacherCache;
            checkpointEvery = checkpointEvery == null ? (stateDir == null ? 0 : Math.max(1, steps / 10)) : checkpointEvery;
            if (steps < 1 || batchSize < 1 || accumulation < 1 || windowsPerFile < 0 || checkpointEvery < 0) {
                throw new IllegalArgumentException("steps, batch_size and accumulation must be >= 1, windows_per_file and checkpoint_every >= 0");
            }
            if (window != null && window < 2) {
                throw new IllegalArgumentException("window must be >= 2, got " + window);
            }
            if (checkpointEvery > 0 && stateDir == null) {
                throw new IllegalArgumentException("checkpoint_every needs state_dir");
            }
            if (kdWeight > 0 && teacher == null) {
                throw new IllegalArgumentException("kd_weight " + kdWeight + " needs a teacher");
            }
            if (groups(train).contains(ParamGroup.NEW)) {
                throw new IllegalArgumentException("train: 'new' parameters are added by methods (compressed experts, BAM), not by the distill stage");
            }
            if (precision != null) {
                Precision.parse(precision);
            }
            new Losses(kdWeight, ceWeight, topK, temperature, kdSupport, balanceWeight, zLossWeight);   // validates
            new Optim(lr, minLr, warmup, weightDecay, beta1, beta2, 1e-8, clip);
        }

        Losses losses() {
            return new Losses(kdWeight, ceWeight, topK, temperature, kdSupport, balanceWeight, zLossWeight);
        }

        Optim optim() {
            return new Optim(lr, minLr, warmup, weightDecay, beta1, beta2, 1e-8, clip);
        }

        static Set<ParamGroup> groups(String csv) {
            return ParamGroup.parse(csv);
        }
    }

    public DistillStage() {
        super("distill", "train chosen parameters towards a teacher's top-k logits (KD) and/or the text, AdamW, resumable",
                "https://arxiv.org/abs/2506.18349", Parameters.class, Calibration.REQUIRED);
    }

    @Override
    public List<String> extraInputs(Parameters p) {
        return p.teacher() == null ? List.of() : List.of(p.teacher());
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        ModelSpec spec = in.layout().spec();
        Set<ParamGroup> groups = Parameters.groups(p.train());
        long trainable = trainable(in, groups);
        if (trainable == 0) {
            throw new IllegalArgumentException("stage 'distill': train '" + p.train() + "' selects no tensor of this "
                    + (spec.isMoe() ? "model" : "dense model"));
        }
        if (p.topK() > spec.vocab()) {
            throw new IllegalArgumentException("stage 'distill': top_k " + p.topK() + " exceeds the vocabulary of " + spec.vocab());
        }
        List<String> notes = new ArrayList<>();
        if (!in.extra().isEmpty()) {
            try (Checkpoint t = Checkpoint.open(in.extra().getFirst())) {
                int tv = ModelSpec.of(t).vocab();
                if (tv != spec.vocab()) {
                    throw new IllegalArgumentException("stage 'distill': teacher " + in.extra().getFirst() + " has a vocabulary of " + tv
                            + ", the student " + spec.vocab() + "; KD needs the same tokenizer");
                }
            }
        }
        if (p.stateDir() == null) {
            notes.add("no state_dir: an interrupted run starts training again from step 0");
        }
        int window = p.window() == null ? ctx.calibration().window() : p.window();
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("trainable_parameters", trainable);
        d.put("tokens", (long) p.steps() * p.batchSize() * p.accumulation() * window);
        d.put("window", window);
        d.put("precision", precision(p, ctx).name().toLowerCase(Locale.ROOT));
        return new Planned(in.layout(), true, notes, d);
    }

    /** Elements of the tensors {@code groups} selects, from the layout alone. */
    private static long trainable(PlanInput in, Set<ParamGroup> groups) {
        if (groups.contains(ParamGroup.ALL)) {
            return in.layout().params(EnumSet.allOf(Role.Kind.class));
        }
        EnumSet<Role.Kind> kinds = EnumSet.noneOf(Role.Kind.class);
        for (Role.Kind k : Role.Kind.values()) {
            for (Role r : Role.values()) {
                if (r.kind() == k && groups.contains(ParamGroup.of(r))) {
                    kinds.add(k);
                }
            }
        }
        return kinds.isEmpty() ? 0 : in.layout().params(kinds);
    }

    private static Precision precision(Parameters p, StageContext ctx) {
        if (p.precision() != null) {
            return Precision.parse(p.precision());
        }
        return RuntimeOptions.parseDevice(ctx.device()).isGpu() ? Precision.FP16 : Precision.FP32;
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) {
        int window = p.window() == null ? ctx.calibration().window() : p.window();
        List<Path> files = ctx.calibration().data().stream().map(Path::of).toList();
        TrainSpec spec = TrainSpec.builder(input, new TrainData.TextFiles(files, window, p.windowsPerFile()))
                .teacher(extra.isEmpty() ? null : extra.getFirst()).output(output).train(Parameters.groups(p.train()))
                .steps(p.steps()).batch(p.batchSize()).accumulation(p.accumulation()).losses(p.losses()).optim(p.optim())
                .device(RuntimeOptions.parseDevice(ctx.device())).precision(precision(p, ctx)).teacherCache(p.teacherCache())
                .state(p.stateDir() == null ? null : Path.of(p.stateDir()).toAbsolutePath(), p.checkpointEvery())
                .seed(ctx.seed()).build();
        TrainReport r = Trainer.train(spec, ctx.events());
        ctx.info("distill: " + r.summary());
        ObjectNode rep = r.toJson();
        rep.put("loss_png", Base64.getEncoder().encodeToString(LossCurve.png(r.log())));
        return rep;
    }
}
