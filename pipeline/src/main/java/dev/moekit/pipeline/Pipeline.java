package dev.moekit.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.EvalResult;
import dev.moekit.pipeline.eval.Evaluation;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.pipeline.io.OutputLock;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.pipeline.stage.BoundStage;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.Methods;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The pipeline every front end calls (CLI, Maven plugin, batch workers): {@link #prepare} validates and plans a
 * recipe without writing anything; {@link #run} executes it.
 *
 * <p>A run takes the output's lock, then runs stage by stage in {@code <output>.work/NN-<stage>/}: the stage is
 * planned again on its real input, its units run in {@code units/<id>/}, the stage commits to {@code out/}, and a
 * marker with the stage's resume key is written last. The key covers the input's fingerprint (content of config and
 * index, every shard's size, header, mtime and inode), each further input's, the resolved parameters, seed, device,
 * the calibration files' content hashes and settings, and moekit's version, chained through the stages; a finished
 * stage whose key matches is reused, any other folder is removed before the stage runs again. The evaluation
 * follows, then the provenance is written into the final folder, which is moved into place under the lock (an
 * existing output is swapped, never left missing; see {@link Outputs}), and the work folder is removed.
 *
 * <p>Stopped with SIGTERM or Ctrl-C, a run removes the unfinished stage's folder and keeps finished stages for the
 * next run; after a hard kill the next run removes the unfinished stage (it has no marker) and reuses the rest
 * under the rule above. The input is never written.
 */
public final class Pipeline {
    static final String MARKER = "moekit_stage.json";

    private final Methods methods;
    private final Events events;
    private final Evaluation evaluation;

    public Pipeline(Methods methods, Events events) {
        this.methods = methods;
        this.events = events;
        this.evaluation = new Evaluation(methods);
    }

    /** The pipeline over every registered method. */
    public static Pipeline standard(Events events) {
        return new Pipeline(Methods.standard(), events);
    }

    Events events() {
        return events;
    }

    /** The events of this pipeline, for the batch package. */
    public Events eventsForBatch() {
        return events;
    }

    /** Opens the job folder of a prepared recipe (batch jobs; {@link #run} does this itself). */
    public Job openJob(Prepared p) throws IOException {
        return Job.open(this, p);
    }

    public Evaluation evaluation() {
        return evaluation;
    }

    /** What a run produced. */
    public record Result(Path output, ObjectNode provenance, EvalResult eval) {}

    /**
     * Validates everything and plans every stage: input opens and parses, the output may be written, every stage's
     * parameters bind and fit the planned input, the data exist. Writes nothing.
     */
    public Prepared prepare(Recipe r) {
        Path input = r.model();
        if (!Files.isDirectory(input)) {
            throw new CheckpointException(input + ": model folder not found");
        }
        input = Outputs.real(input);
        Path output = r.output();
        List<BoundStage<?>> stages = new ArrayList<>();
        var registry = methods.kind(StageType.KIND);
        for (StageEntry e : r.stages()) {
            stages.add(BoundStage.bind(registry.get(e.name()), e.params()));
        }
        List<List<Path>> extra = new ArrayList<>();
        List<Path> allInputs = new ArrayList<>(List.of(input));
        for (BoundStage<?> s : stages) {
            List<Path> ex = extraInputs(s, r);
            extra.add(ex);
            allInputs.addAll(ex);
        }
        Outputs.checkSeparate(output, allInputs);
        Outputs.checkWritable(output, r.replace());
        boolean calibrates = stages.stream().anyMatch(BoundStage::needsCalibration);
        List<DataFiles.DataFile> cal = calibrates ? DataFiles.resolve(r.calibration().data(), "*.valid.txt", "calibration") : List.of();
        List<DataFiles.DataFile> evalData = r.eval() == null ? List.of() : Evaluation.data(r.eval());
        if (r.eval() != null) {
            Evaluation.runtime(r.eval(), r.device());
        }
        StageContext ctx = context(r, input, cal);
        List<Plan> plans = new ArrayList<>();
        Layout layout;
        try (Checkpoint c = Checkpoint.open(input)) {
            layout = Layout.of(c);
        }
        Path real = input;
        for (int i = 0; i < stages.size(); i++) {
            Plan p;
            try {
                p = stages.get(i).plan(new PlanInput(layout, real, extra.get(i)), ctx);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("stage " + (i + 1) + " (" + stages.get(i).name() + "): " + e.getMessage(), e);
            }
            plans.add(p);
            layout = p.output();
            real = null;
        }
        return new Prepared(r, input, output, stages, extra, plans, cal, evalData);
    }

    private static List<Path> extraInputs(BoundStage<?> s, Recipe r) {
        List<Path> out = new ArrayList<>();
        for (String p : extra(s)) {
            Path path = Path.of(p);
            Path abs = path.isAbsolute() ? path : r.model().getParent().resolve(path);
            if (!Files.isDirectory(abs)) {
                throw new CheckpointException(abs + ": input checkpoint of stage " + s.name() + " not found");
            }
            out.add(Outputs.real(abs));
        }
        return out;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static List<String> extra(BoundStage<?> s) {
        return ((StageType) s.type()).extraInputs(s.params());
    }

    private StageContext context(Recipe r, Path input, List<DataFiles.DataFile> cal) {
        CalibrationSettings c = r.calibration();
        CalibrationSettings resolved = new CalibrationSettings(DataFiles.paths(cal), c.windows(), c.window(), c.allExperts());
        return new StageContext(input, resolved, r.device(), r.seed(), events);
    }

    /** Prepares and runs {@code r}. */
    public Result run(Recipe r) throws Exception {
        return run(prepare(r));
    }

    /** Runs a prepared recipe; see the class comment. */
    public Result run(Prepared p) throws Exception {
        Recipe r = p.recipe();
        Path output = p.output();
        AtomicReference<Path> unfinished = new AtomicReference<>();
        AtomicReference<OutputLock> held = new AtomicReference<>();
        Thread cleanup = new Thread(() -> {
            Path u = unfinished.get();
            OutputLock l = held.get();
            if (u == null) {
                if (l != null) {
                    l.close();
                }
                return;
            }
            for (int attempt = 0; attempt < 5; attempt++) { // the stage may still be writing while hooks run
                try {
                    FileTrees.delete(u);
                    Path work = u.getParent();
                    try (var left = Files.list(work)) {
                        if (left.allMatch(f -> f.getFileName().toString().equals(Job.JOB))) {
                            FileTrees.delete(work); // nothing finished to resume from
                        }
                    }
                    if (l != null) {
                        l.close();
                    }
                    return;
                } catch (IOException e) {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        }, "moekit-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try (OutputLock lock = OutputLock.acquire(output)) {
            held.set(lock);
            Outputs.recover(output).forEach(events::info);
            Outputs.checkWritable(output, r.replace());
            return runLocked(p, unfinished);
        } finally {
            unfinished.set(null);
            held.set(null);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook runs
            }
        }
    }

    private Result runLocked(Prepared p, AtomicReference<Path> unfinished) throws Exception {
        Job job = Job.open(this, p);
        int n = job.stages();
        for (int i = 0; i < n; i++) {
            String name = p.stages().get(i).name();
            ObjectNode m = job.marker(i);
            if (m != null) {
                events.stageFinished(i + 1, n, name, m.path("seconds").asDouble(), true);
                job.reused(i);
                continue;
            }
            unfinished.set(job.stageDir(i));
            events.stageStarted(i + 1, n, name);
            long t0 = System.nanoTime();
            Plan plan = job.plan(i);
            for (WorkUnit u : plan.units()) {
                job.runUnit(i, plan, u, t -> { });
            }
            job.commit(i, plan, 0);
            unfinished.set(null);
            events.stageFinished(i + 1, n, name, (System.nanoTime() - t0) / 1e9, false);
        }
        return job.finish();
    }

    /** Fails naming the tensors when {@code dir} holds NaN or Inf weights (a NaN input or output is never silent). */
    void checkFinite(Path dir, String what) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            List<String> bad = dev.moekit.toolkit.model.SpecChecker.scanNonFinite(c);
            if (!bad.isEmpty()) {
                throw new CheckpointException(dir + ": the " + what + " holds non-finite values: " + String.join("; ", bad.subList(0, Math.min(5, bad.size())))
                        + (bad.size() > 5 ? "; and " + (bad.size() - 5) + " more" : ""));
            }
        }
    }

}
