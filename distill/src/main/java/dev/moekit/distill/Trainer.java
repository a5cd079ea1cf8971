package dev.moekit.distill;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.eval.runtime.Trainable;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Trains a student through DJL's autograd with the evaluation runtime's own forward ({@link CausalLm#forward}):
 * the {@link TrainSpec#train} groups become fp32 masters ({@link Trainable}), each micro-batch runs forward and
 * backward inside a {@link GradientCollector} (the only place grad mode is on), the teacher's top-k targets come
 * from {@link TeacherTopK} without gradients, and {@link AdamW} updates the masters with the schedule, clipping and
 * (fp16) loss scaling of {@link TrainSpec}. One code path for CPU and GPU. Training state is saved every
 * {@code checkpointEvery} steps and a run started again with the same spec resumes from the newest one and ends
 * with the same weights as an uninterrupted run (bitwise on CPU: same data order, same teacher values, same ops).
 *
 * <pre>{@code
 * TrainSpec spec = TrainSpec.builder(student, new TrainData.TextFiles(files, 256, 0))
 *     .teacher(teacher).output(out).train(ParamGroup.parse("experts,routers")).steps(500).build();
 * TrainReport r = Trainer.train(spec, events);
 * }</pre>
 * Not thread-safe; one training run per JVM at a time (DJL allows one gradient collector).
 */
public final class Trainer implements AutoCloseable {
    private static final long CACHE_LIMIT = 1L << 30;

    private final TrainSpec spec;
    private final Events events;
    private final CausalLm student;
    private final CausalLm teacherModel;
    private final TeacherTopK teacher;
    private final Trainable params;
    private final AdamW opt;
    private final TrainWindows data;
    private final LossScaler scaler;
    private final String key;

    private Trainer(TrainSpec spec, Events events, CausalLm student, CausalLm teacherModel, TrainWindows data) {
        this.spec = spec;
        this.events = events;
        this.student = student;
        this.teacherModel = teacherModel;
        this.data = data;
        for (AddedParameter a : spec.added()) {
            student.addParameter(a.name(), a.layer(), a.init(), a.shape());
        }
        student.setExtension(spec.extension());
        this.params = Trainable.select(student, spec.train());
        if (params.isEmpty()) {
            throw new IllegalArgumentException(spec.student() + ": the parameter groups " + spec.train().stream().map(g -> g.key()).toList()
                    + " select no tensor of this model");
        }
        this.opt = new AdamW(params, spec.optim());
        this.scaler = new LossScaler(spec.precision() == Precision.FP16);
        this.key = key(spec, data);
        this.teacher = teacherModel == null ? null : openTeacher();
    }

    /** Opens student and teacher, loads the data; {@link #run} trains, {@link #write} writes, close frees. */
    public static Trainer open(TrainSpec spec, Events events) {
        RuntimeOptions o = new RuntimeOptions(spec.device(), spec.precision(), false, spec.batch());
        TrainWindows data = TrainWindows.load(spec.data(), spec.student(), spec.seed());
        CausalLm s = CausalLm.open(spec.student(), o);
        CausalLm t = null;
        try {
            if (spec.teacher() != null && spec.losses().kd() > 0) {
                t = CausalLm.open(spec.teacher(), o);
                if (t.spec().vocab() != s.spec().vocab()) {
                    throw new CheckpointException(spec.teacher() + ": teacher vocabulary " + t.spec().vocab()
                            + " differs from the student's " + s.spec().vocab() + "; KD needs the same tokenizer");
                }
                if (spec.losses().topK() > t.spec().vocab()) {
                    throw new IllegalArgumentException("top_k " + spec.losses().topK() + " exceeds the vocabulary of " + t.spec().vocab());
                }
            }
            return new Trainer(spec, events, s, t, data);
        } catch (RuntimeException e) {
            if (t != null) {
                t.close();
            }
            s.close();
            throw e;
        }
    }

    /**
     * Opens, trains, writes {@link TrainSpec#output} (when set) and closes; once the output is written the training
     * state (checkpoints, teacher cache) is removed from the state folder.
     */
    public static TrainReport train(TrainSpec spec, Events events) {
        try (Trainer t = open(spec, events)) {
            TrainReport r = t.run();
            if (spec.output() != null) {
                t.write(spec.output());
                if (spec.stateDir() != null) {
                    TrainState.clear(spec.stateDir());
                }
            }
            return r;
        }
    }

    /** The student, with its trained weights installed (usable for evaluation after {@link #run}). */
    public CausalLm student() {
        return student;
    }

    /** The trained parameters (fp32 masters). */
    public Trainable parameters() {
        return params;
    }

    /** The key that ties training state to this run. */
    public String key() {
        return key;
    }

    private TeacherTopK openTeacher() {
        int k = spec.losses().topK();
        long bytes = TeacherTopK.cacheBytes(data.size(), data.window(), k);
        long visits = (long) spec.steps() * spec.windowsPerStep();
        boolean cache = switch (spec.teacherCache()) {
            case CACHE -> true;
            case LIVE -> false;
            case AUTO -> visits > data.size() && bytes <= CACHE_LIMIT;
        };
        if (!cache) {
            return TeacherTopK.live(teacherModel, k, data.window());
        }
        Path file = spec.stateDir() == null ? null : spec.stateDir().resolve("teacher-topk.bin");
        if (file != null) {
            try {
                Files.createDirectories(spec.stateDir());
            } catch (IOException e) {
                throw new UncheckedIOException(spec.stateDir() + ": cannot create the training-state folder", e);
            }
        }
        return TeacherTopK.cached(teacherModel, k, data.size(), data.window(), key.hashCode() * 31L + data.hash(), file);
    }

    /** Trains (resuming from the newest training state when there is one) and returns the report. */
    public TrainReport run() {
        Engines.inferenceMode();
        Losses l = spec.losses();
        int steps = spec.steps();
        int start = 0;
        long position = 0;
        long tokens = 0;
        double seconds = 0;
        List<StepLog> log = new ArrayList<>();
        TrainState resumed = spec.stateDir() == null ? null : TrainState.resume(spec.stateDir(), key, params, opt);
        if (resumed != null) {
            start = resumed.step();
            position = resumed.position();
            tokens = resumed.tokens();
            seconds = resumed.seconds();
            log.addAll(resumed.log());
            scaler.restore(resumed.lossScale(), resumed.goodSteps());
            params.sync();
            events.info(String.format(Locale.ROOT, "distill: resuming after step %d of %d from %s", start, steps, spec.stateDir()));
        }
        if (start >= steps) {
            events.info("distill: the training state is already at step " + start + " of " + steps);
        }
        Engine engine = Engine.getEngine(Engines.PYTORCH);
        int tokensPerStep = spec.windowsPerStep() * data.window();
        double thisRun = 0;
        int every = Math.max(1, steps / 10);
        for (int step = start + 1; step <= steps; step++) {
            long t0 = System.nanoTime();
            double lr = spec.optim().lrAt(step, steps);
            double[] sums = new double[5];
            for (int a = 0; a < spec.accumulation(); a++) {
                microBatch(engine, position, sums);
                position += spec.batch();
            }
            for (int i = 0; i < sums.length; i++) {
                sums[i] /= spec.accumulation();
            }
            double scale = scaler.scale();
            double norm = opt.gradNorm(1 / scale);
            boolean finite = Double.isFinite(norm) && Double.isFinite(sums[0]);
            if (!finite && spec.precision() == Precision.FP32) {
                throw new IllegalStateException(String.format(Locale.ROOT, "%s: the loss or its gradients became non-finite at step %d (loss %s); lower the learning rate",
                        spec.student(), step, sums[0]));
            }
            if (finite) {
                double clip = spec.optim().clip() > 0 && norm > spec.optim().clip() ? spec.optim().clip() / norm : 1;
                opt.step(lr, clip / scale);
            } else {
                opt.zeroGrad();
            }
            scaler.update(finite);
            double dt = (System.nanoTime() - t0) / 1e9;
            seconds += dt;
            thisRun += dt;
            tokens += tokensPerStep;
            log.add(new StepLog(step, sums[0], nanIfOff(sums[1], l.kd()), nanIfOff(sums[2], l.ce()),
                    nanIfOff(sums[3], l.balance()), nanIfOff(sums[4], l.zLoss()), lr, norm, tokensPerStep / dt, scale, !finite));
            double tps = (double) (step - start) * tokensPerStep / thisRun;
            events.update(String.format(Locale.ROOT, "distill loss %.4f %.0f tok/s", sums[0], tps), step, steps);
            if (step % every == 0 || step == steps) {
                events.info(String.format(Locale.ROOT, "distill step %d/%d  loss %.4f%s%s  lr %.2e  grad %.3f  %.0f tok/s  ETA %s",
                        step, steps, sums[0], l.kd() > 0 ? String.format(Locale.ROOT, " (kd %.4f)", sums[1]) : "",
                        l.ce() > 0 ? String.format(Locale.ROOT, " (ce %.4f)", sums[2]) : "", lr, norm, tps,
                        clock(thisRun / (step - start) * (steps - step))));
            }
            if (spec.checkpointEvery() > 0 && step % spec.checkpointEvery() == 0 && step < steps) {
                new TrainState(key, step, position, scaler.scale(), scaler.goodSteps(), opt.steps(), params.params().size(), log, tokens, seconds)
                        .save(spec.stateDir(), params, opt);
            }
        }
        params.sync();
        List<Path> files = spec.reportDir() == null ? List.of() : LossCurve.write(spec.reportDir(), log);
        int tail = Math.min(10, log.size());
        double last = log.subList(log.size() - tail, log.size()).stream().mapToDouble(StepLog::loss).average().orElse(Double.NaN);
        return new TrainReport(steps, start, tokens, seconds, thisRun > 0 ? (double) (steps - start) * tokensPerStep / thisRun : 0,
                params.size(), params.params().size(), log.isEmpty() ? Double.NaN : log.getFirst().loss(), last,
                (int) log.stream().filter(StepLog::skipped).count(), scaler.scale(),
                teacher == null ? "none" : teacher.cached() ? "cache" : "live", teacher == null ? 0 : teacher.computedWindows(), log, files);
    }

    /**
     * Forward and backward over the first {@code windows} windows of the data stream (micro-batches of
     * {@link TrainSpec#batch}) without any update, for first-order sensitivities (SlimMoE): after each micro-batch
     * {@code each} runs with grad mode off while the masters hold that micro-batch's gradients (of the loss times
     * {@code 1 / accumulation}), which are zeroed before the next. Returns the mean loss.
     */
    public double gradients(int windows, Runnable each) {
        if (windows < 1) {
            throw new IllegalArgumentException("gradients need at least one window, got " + windows);
        }
        Engines.inferenceMode();
        Engine engine = Engine.getEngine(Engines.PYTORCH);
        double loss = 0;
        int batches = 0;
        opt.zeroGrad();
        for (long position = 0; position < windows; position += spec.batch()) {
            double[] sums = new double[5];
            microBatch(engine, position, sums);
            each.run();
            opt.zeroGrad();
            loss += sums[0];
            batches++;
        }
        return loss / batches;
    }

    /**
     * Forward and backward of the micro-batch at stream position {@code position} inside a gradient collector (the
     * only place grad mode is on); gradients accumulate into the masters; adds the loss terms to {@code sums}.
     */
    private void microBatch(Engine engine, long position, double[] sums) {
        Losses l = spec.losses();
        int[] ids = data.indices(position, spec.batch());
        int[][] rows = new int[ids.length][];
        for (int i = 0; i < ids.length; i++) {
            rows[i] = data.get(ids[i]);
        }
        TokenBatch batch = TokenBatch.of(rows);
        TeacherTopK.Targets targets = teacher == null ? null : teacher.get(ids, batch);   // grad mode off
        try (NDManager scope = student.manager().newSubManager();
             GradientCollector gc = engine.newGradientCollector()) {
            params.bind(scope);
            RouterLosses router = new RouterLosses(l.balance() > 0, l.zLoss() > 0);
            NDArray logits = student.forward(batch, scope, router.active() ? router : ForwardObserver.NONE);
            Objective.Terms terms = Objective.of(l, logits, batch, targets, router, scope);
            gc.backward(Scalars.times(terms.total(), (float) (scaler.scale() / spec.accumulation())));
            sums[0] += value(terms.total());
            sums[1] += value(terms.kd());
            sums[2] += value(terms.ce());
            sums[3] += value(terms.balance());
            sums[4] += value(terms.zLoss());
        }
    }

    /** Writes the student with its trained weights to {@code out} in its own layout and dtype; returns the bytes written. */
    public long write(Path out) {
        try (Checkpoint in = Checkpoint.open(spec.student())) {
            Path[] inputs = spec.teacher() == null ? new Path[] {spec.student()} : new Path[] {spec.student(), spec.teacher()};
            return StudentWriter.write(in, student.spec(), params, spec.added(), out, inputs);
        }
    }

    private static double value(NDArray scalar) {
        return scalar == null ? 0 : scalar.getFloat();
    }

    private static double nanIfOff(double v, double weight) {
        return weight > 0 ? v : Double.NaN;
    }

    private static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** What the run is: a training state resumes only the same run. */
    static String key(TrainSpec s, TrainWindows data) {
        StringBuilder b = new StringBuilder();
        b.append(files(s.student())).append('|').append(s.teacher() == null ? "-" : files(s.teacher())).append('|')
                .append(data.size()).append('x').append(data.window()).append(':').append(data.hash()).append('|')
                .append(s.train()).append('|').append(s.steps()).append('|').append(s.batch()).append('x').append(s.accumulation())
                .append('|').append(s.losses()).append('|').append(s.optim()).append('|').append(s.precision()).append('|')
                .append(s.device().getDeviceType()).append('|').append(s.seed());
        for (AddedParameter a : s.added()) {
            b.append('|').append(a.name()).append('@').append(a.layer()).append(Arrays.toString(a.shape()))
                    .append(Arrays.hashCode(a.init())).append(a.tensor());
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A checkpoint folder's path with each file's name, size and modification time (a cheap content stand-in). */
    private static String files(Path dir) {
        StringBuilder b = new StringBuilder(dir.toAbsolutePath().normalize().toString());
        try (var s = Files.list(dir)) {
            for (Path f : s.sorted().toList()) {
                b.append(';').append(f.getFileName()).append(':').append(Files.size(f)).append(':').append(Files.getLastModifiedTime(f).toMillis());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list", e);
        }
        return b.toString();
    }

    @Override
    public void close() {
        try {
            if (teacher != null) {
                teacher.close();
            }
            if (teacherModel != null) {
                teacherModel.close();
            }
        } finally {
            student.close();
        }
    }
}
