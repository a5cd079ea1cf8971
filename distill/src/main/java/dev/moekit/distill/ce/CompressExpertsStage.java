package dev.moekit.distill.ce;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.distill.AddedParameter;
import dev.moekit.distill.LossCurve;
import dev.moekit.distill.Losses;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TeacherCache;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.TrainReport;
import dev.moekit.distill.TrainSpec;
import dev.moekit.distill.Trainer;
import dev.moekit.eval.runtime.ForwardExtension;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.CompressedExperts;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Recipe stage {@code compress_experts} (He et al. 2025, arXiv 2503.00634): every MoE layer's top-k becomes
 * {@code main} experts that run plus {@code k - main} compressed (auxiliary) experts that never run and only
 * contribute their {@code ces} vectors ({@link CompressedExperts}); {@code ces} starts at ones and, with
 * {@code train_tokens > 0}, trains (alone or with experts, routers, everything) through the distillation engine
 * against the input model with its full top-k (KD on its top-k logits) or on the text, on the recipe's calibration
 * files. With {@code compressed: false} the same stage writes plain top-{@code main} and trains it the same way (the
 * baseline "same training, no CE").
 *
 * <pre>{@code
 * stages:
 *   - compress_experts: {main: 1, train_tokens: 200000, train: ces, lr: 1.0e-2}
 * }</pre>
 *
 * <p>Routing weights: the router keeps the family's rule over the full top-k (Mixtral renormalises over the k chosen,
 * Qwen2-MoE/OLMoE follow {@code norm_topk_prob}, Phi's sparsemixer); main experts are the first {@code main} of the
 * router's order and keep those weights (not renormalised over the main set), as in the paper and the released code.
 * So with {@code ces} at ones a Mixtral layer computes {@code w_1/(w_1+w_2) E_1(x)}, while plain top-1 (the
 * "halved top-k" baseline, {@code compressed: false}) computes {@code E_1(x)}; for families without renormalisation
 * the two agree.
 */
public final class CompressExpertsStage extends SingleUnitStage<CompressExpertsStage.Parameters> {
    /** Parameters. */
    public record Parameters(
            @Doc("main experts run per token (k_m); the other top_k - main of the router's choice become compressed experts (k_a = n_ce)") Integer main,
            @Doc("true: compressed experts (use_ce, n_ce); false: plain top-main with the same training (the baseline)") Boolean compressed,
            @Doc("ces storage: split ([E, 2*hidden + ffn], theta_2 of the expert's width; default) or code ([E, 3, hidden], the released code's; needs ffn <= hidden)") String layout,
            @Doc("training tokens; 0 leaves ces at ones (plain top-main with the main experts' own routing weights)") Long trainTokens,
            @Doc("what trains, comma-separated: ces (the new vectors), routers, experts, attention, mlp, norms, embeddings, all") String train,
            @Doc("objective: kd (top-k KD against the input model with its full top-k) or ce (next-token loss on the text)") String loss,
            @Doc("windows per forward (micro-batch)") Integer batchSize,
            @Doc("micro-batches per optimizer step") Integer accumulation,
            @Doc("tokens per training window (default: the recipe's calibration window)") Integer window,
            @Doc("windows taken from the start of each calibration file, 0 for all") Integer windowsPerFile,
            @Doc("teacher logits kept per position for KD") Integer topK,
            @Doc("peak learning rate (AdamW)") Double lr,
            @Doc("final learning rate of the cosine decay (default lr/10)") Double minLr,
            @Doc("linear warm-up steps") Integer warmup,
            @Doc("decoupled weight decay on matrices (default 0: ces [E, W] is a matrix, and decays towards 0, not 1)") Double weightDecay,
            @Doc("compute dtype: fp32 or fp16; default fp32 on CPU, fp16 on GPU") String precision,
            @Doc("teacher top-k: cache, live or auto") TeacherCache teacherCache,
            @Doc("folder for training-state checkpoints (resume)") String stateDir,
            @Doc("steps between training-state checkpoints (default steps/10 when state_dir is set)") Integer checkpointEvery) {
        public Parameters {
            if (main == null) {
                throw new IllegalArgumentException("compress_experts needs 'main' (experts run per token, below the model's top-k)");
            }
            if (main < 1) {
                throw new IllegalArgumentException("main must be >= 1, got " + main);
            }
            compressed = compressed == null || compressed;
            layout = layout == null ? "split" : layout;
            CompressedExperts.Layout.parse(layout);
            trainTokens = trainTokens == null ? 0 : trainTokens;
            if (trainTokens < 0) {
                throw new IllegalArgumentException("train_tokens must be >= 0, got " + trainTokens);
            }
            train = train == null ? "ces" : train;
            loss = loss == null ? "kd" : loss.toLowerCase(Locale.ROOT);
            if (!loss.equals("kd") && !loss.equals("ce")) {
                throw new IllegalArgumentException("loss must be kd or ce, got '" + loss + "'");
            }
            batchSize = batchSize == null ? 8 : batchSize;
            accumulation = accumulation == null ? 1 : accumulation;
            windowsPerFile = windowsPerFile == null ? 0 : windowsPerFile;
            topK = topK == null ? 8 : topK;
            lr = lr == null ? 1e-2 : lr;
            minLr = minLr == null ? lr / 10 : minLr;
            warmup = warmup == null ? 0 : warmup;
            weightDecay = weightDecay == null ? 0.0 : weightDecay;
            teacherCache = teacherCache == null ? TeacherCache.AUTO : teacherCache;
            checkpointEvery = checkpointEvery == null ? 0 : checkpointEvery;
            if (batchSize < 1 || accumulation < 1 || windowsPerFile < 0 || checkpointEvery < 0) {
                throw new IllegalArgumentException("batch_size and accumulation must be >= 1, windows_per_file and checkpoint_every >= 0");
            }
            if (window != null && window < 2) {
                throw new IllegalArgumentException("window must be >= 2, got " + window);
            }
            if (checkpointEvery > 0 && stateDir == null) {
                throw new IllegalArgumentException("checkpoint_every needs state_dir");
            }
            Set<ParamGroup> groups = groups(train, compressed);
            if (trainTokens > 0 && groups.isEmpty()) {
                throw new IllegalArgumentException("train '" + train + "' trains nothing without compressed experts (compressed: false has no ces); name routers, experts, ...");
            }
            if (precision != null) {
                Precision.parse(precision);
            }
            new Losses(loss.equals("kd") ? 1 : 0, loss.equals("ce") ? 1 : 0, topK, 1, Losses.KdSupport.TOPK, 0, 0);
            new Optim(lr, minLr, warmup, weightDecay, 0.9, 0.95, 1e-8, 1.0);
        }

        Losses losses() {
            return new Losses(loss.equals("kd") ? 1 : 0, loss.equals("ce") ? 1 : 0, topK, 1, Losses.KdSupport.TOPK, 0, 0);
        }

        Optim optim() {
            return new Optim(lr, minLr, warmup, weightDecay, 0.9, 0.95, 1e-8, 1.0);
        }

        CompressedExperts.Layout cesLayout() {
            return CompressedExperts.Layout.parse(layout);
        }

        /** The groups of {@code csv}, {@code ces} meaning the added vectors ({@code new}); without CE they drop out. */
        static Set<ParamGroup> groups(String csv, boolean compressed) {
            Set<ParamGroup> g = EnumSet.copyOf(ParamGroup.parse(csv.replaceAll("(?i)\\bces\\b", "new")));
            if (!compressed) {
                g.remove(ParamGroup.NEW);
            }
            return g;
        }
    }

    public CompressExpertsStage() {
        super("compress_experts", "compressed experts: top-k becomes k_m experts that run plus k_a represented by trained ces vectors",
                "https://arxiv.org/abs/2503.00634", Parameters.class, Calibration.DEPENDS);
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.trainTokens() > 0;
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        ModelSpec spec = in.layout().spec();
        check(p, spec);
        ObjectNode cfg = CeCheckpoint.config(spec, p.main(), p.compressed(), p.cesLayout());
        ModelSpec out = CeCheckpoint.spec(cfg, spec, p.compressed());
        List<TensorSpec> tensors = new ArrayList<>(in.layout().tensors());
        tensors.addAll(CeCheckpoint.cesTensors(out));
        Layout layout = new Layout(cfg, tensors, CeCheckpoint.facts(spec, p.compressed()), in.layout().exact());
        List<String> notes = new ArrayList<>();
        if (p.compressed() && RemoteCode.of(spec) == null) {
            notes.add("no transformers class for model_type '" + spec.config().path("model_type").asText() + "': the output runs in moekit only (no auto_map)");
        }
        if (p.trainTokens() == 0 && p.compressed()) {
            notes.add("train_tokens 0: ces stays at ones, the model computes plain top-" + p.main() + " with the main experts' own routing weights");
        }
        int window = window(p, ctx);
        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("main", p.main());
        d.put("n_ce", p.compressed() ? topK(spec) - p.main() : 0);
        d.put("steps", steps(p, window));
        d.put("train_tokens", (long) steps(p, window) * p.batchSize() * p.accumulation() * window);
        d.put("active_parameters_in", dev.moekit.toolkit.model.ParamCount.activePerToken(spec));
        d.put("active_parameters_out", dev.moekit.toolkit.model.ParamCount.activePerToken(out));
        return new Planned(layout, p.trainTokens() > 0, notes, d);
    }

    /** The parameters against the model: an MoE not already compressed, {@code main} below every layer's top-k. */
    static void check(Parameters p, ModelSpec spec) {
        if (!spec.isMoe()) {
            throw new IllegalArgumentException("stage 'compress_experts': the model is dense; compressed experts need a mixture of experts");
        }
        if (CompressedExperts.of(spec).enabled()) {
            throw new IllegalArgumentException("stage 'compress_experts': the model already has compressed experts (use_ce true)");
        }
        if (spec.routing().scoring() == dev.moekit.toolkit.model.Routing.Scoring.SIGMOID && spec.routing().groups() > 1) {
            throw new IllegalArgumentException("stage 'compress_experts': group-limited routing (n_group " + spec.routing().groups() + ") is not supported");
        }
        for (LayerSpec ls : spec.layerSpecs()) {
            if (!ls.moe()) {
                continue;
            }
            if (p.main() >= ls.topK()) {
                throw new IllegalArgumentException("stage 'compress_experts': main " + p.main() + " must be below the top-k " + ls.topK()
                        + " of layer " + ls.index() + " (num_experts_per_tok): the rest become compressed experts");
            }
            if (p.compressed() && p.cesLayout() == CompressedExperts.Layout.CODE && ls.expertFfn() > spec.hidden()) {
                throw new IllegalArgumentException("stage 'compress_experts': layout code stores theta_2 in a hidden-sized row, but layer " + ls.index()
                        + "'s experts are " + ls.expertFfn() + " wide (> hidden " + spec.hidden() + "); use layout split");
            }
        }
        if (p.trainTokens() > 0) {
            if (p.topK() > spec.vocab()) {
                throw new IllegalArgumentException("stage 'compress_experts': top_k " + p.topK() + " exceeds the vocabulary of " + spec.vocab());
            }
        }
    }

    private static int topK(ModelSpec spec) {
        return spec.layerSpecs().stream().filter(LayerSpec::moe).mapToInt(LayerSpec::topK).max().orElseThrow();
    }

    private static int window(Parameters p, StageContext ctx) {
        return p.window() == null ? ctx.calibration().window() : p.window();
    }

    private static int steps(Parameters p, int window) {
        if (p.trainTokens() == 0) {
            return 0;
        }
        long per = (long) p.batchSize() * p.accumulation() * window;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (p.trainTokens() + per - 1) / per));
    }

    private static Precision precision(Parameters p, StageContext ctx) {
        if (p.precision() != null) {
            return Precision.parse(p.precision());
        }
        return RuntimeOptions.parseDevice(ctx.device()).isGpu() ? Precision.FP16 : Precision.FP32;
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) throws Exception {
        ObjectNode cfg;
        ModelSpec spec;
        Path student;
        ObjectNode rep = Json.PRETTY.createObjectNode();
        try (Checkpoint in = Checkpoint.open(input)) {
            spec = ModelSpec.of(in);
            check(p, spec);
            cfg = CeCheckpoint.config(spec, p.main(), p.compressed(), p.cesLayout());
            if (p.trainTokens() == 0) {
                CeCheckpoint.write(in, spec, cfg, p.compressed(), output, input);
                rep.put("steps", 0);
                rep.put("summary", p.compressed() ? "ces at ones (no training)" : "plain top-" + p.main() + " (no training)");
                ctx.info("compress_experts: " + rep.path("summary").asText());
                return rep;
            }
            // the student: the CE (or top-main) config over the input's tensors; ces is added as a trainable parameter
            student = student(p, output);
            String source = source(input, cfg);
            Path stamp = student.resolveSibling(student.getFileName() + ".source");
            boolean reuse = p.stateDir() != null && Files.isDirectory(student) && Files.exists(stamp)
                    && Files.readString(stamp).equals(source);
            if (!reuse) {
                FileTrees.delete(student);
                CeCheckpoint.write(in, spec, cfg, false, student, input);
                Files.writeString(stamp, source);
            }
        }
        boolean done = false;
        try {
            ModelSpec out = CeCheckpoint.spec(cfg, spec, p.compressed());
            List<AddedParameter> added = new ArrayList<>();
            CompressedExperts ce = CompressedExperts.of(out);
            if (ce.enabled()) {
                for (LayerSpec ls : out.layerSpecs()) {
                    if (ls.moe()) {
                        added.add(new AddedParameter("ces", ls.index(), ce.shape(out, ls), ce.ones(out, ls), out.name(Role.CES, ls.index())));
                    }
                }
            }
            int window = window(p, ctx);
            List<Path> files = ctx.calibration().data().stream().map(Path::of).toList();
            TrainSpec spec2 = TrainSpec.builder(student, new TrainData.TextFiles(files, window, p.windowsPerFile()))
                    .teacher(p.loss().equals("kd") ? input : null).output(output)
                    .train(Parameters.groups(p.train(), p.compressed()))
                    .steps(steps(p, window)).batch(p.batchSize()).accumulation(p.accumulation()).losses(p.losses()).optim(p.optim())
                    .device(RuntimeOptions.parseDevice(ctx.device())).precision(precision(p, ctx)).teacherCache(p.teacherCache())
                    .state(p.stateDir() == null ? null : Path.of(p.stateDir()).toAbsolutePath(), p.checkpointEvery())
                    .added(added, ForwardExtension.NONE).seed(ctx.seed()).build();
            TrainReport r = Trainer.train(spec2, ctx.events());
            ctx.info("compress_experts: " + r.summary());
            rep = r.toJson();
            rep.put("loss_png", Base64.getEncoder().encodeToString(LossCurve.png(r.log())));
            done = true;
            return rep;
        } finally {
            if (done || p.stateDir() == null) {
                FileTrees.delete(student);
                Files.deleteIfExists(student.resolveSibling(student.getFileName() + ".source"));
            }
        }
    }

    /**
     * The training student's folder: beside the unit's output, or in {@code state_dir} (kept until training ends, so a
     * restarted run finds the same student and its training state resumes).
     */
    private static Path student(Parameters p, Path output) throws java.io.IOException {
        if (p.stateDir() == null) {
            return output.resolveSibling(output.getFileName() + ".student");
        }
        Path dir = Path.of(p.stateDir()).toAbsolutePath();
        Files.createDirectories(dir);
        return dir.resolve("student");
    }

    /** What the student was made from: the input's files (name, size, modification time) and the config. */
    private static String source(Path input, ObjectNode cfg) throws java.io.IOException {
        StringBuilder b = new StringBuilder(input.toAbsolutePath().normalize().toString()).append('\n');
        try (var files = Files.list(input)) {
            for (Path f : files.sorted().toList()) {
                b.append(f.getFileName()).append(':').append(Files.size(f)).append(':').append(Files.getLastModifiedTime(f).toMillis()).append('\n');
            }
        }
        return b.append(cfg.toString()).toString();
    }
}
