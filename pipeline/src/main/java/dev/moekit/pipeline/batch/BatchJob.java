package dev.moekit.pipeline.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Job;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.io.OutputLock;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A batch job: a {@link Job} folder plus the batch settings ({@code batch.json}: executor, options, submitted ids). Any
 * process that can read the folder can load it and run a unit, a commit or the finish.
 */
public final class BatchJob {
    static final String BATCH = "batch.json";
    static final String FAILED = ".failed";

    private final Pipeline pipeline;
    private final Job job;

    private BatchJob(Pipeline pipeline, Job job) {
        this.pipeline = pipeline;
        this.job = job;
    }

    /** Creates (or reopens) the job of a prepared recipe. */
    public static BatchJob create(Pipeline pipeline, Prepared p) throws IOException {
        return new BatchJob(pipeline, pipeline.openJob(p));
    }

    /** Loads the job in {@code dir} (the {@code <output>.work} folder), optionally on another device. */
    public static BatchJob load(Path dir, Events events, String device) throws IOException {
        Path jobFile = dir.resolve("job.json");
        if (!Files.isRegularFile(jobFile)) {
            throw new IllegalArgumentException(dir + ": not a moekit job folder (no job.json)");
        }
        JsonNode j = Json.STRICT.readTree(jobFile.toFile());
        Recipe r = Recipe.parse(j.get("recipe"), null);
        if (device != null) {
            r = r.withDevice(device);
        }
        Pipeline pl = Pipeline.standard(events);
        return new BatchJob(pl, pl.openJob(pl.prepare(r)));
    }

    public Job job() {
        return job;
    }

    public Path dir() {
        return job.dir();
    }

    Path logs() throws IOException {
        return Files.createDirectories(dir().resolve("logs"));
    }

    /** The units of stage {@code i}: planned on the real input when it exists, else from the dry-run plan. */
    List<WorkUnit> units(int i) throws IOException {
        if (i == 0 || job.stageDone(i - 1)) {
            return job.plan(i).units();
        }
        return job.prepared().plans().get(i).units();
    }

    /** Runs unit {@code id} of stage {@code i} with up to {@code retries} attempts; a final failure is recorded. */
    public void runUnit(int i, String id, int retries) throws Exception {
        Plan plan = job.plan(i);
        WorkUnit u = plan.units().stream().filter(x -> x.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("stage " + (i + 1) + " has no unit '" + id + "' (units: "
                        + String.join(", ", plan.units().stream().map(WorkUnit::id).toList()) + ")"));
        for (String a : u.after()) {
            if (!job.unitDone(i, a)) {
                throw new IllegalStateException("unit " + id + " of stage " + (i + 1) + " waits for unit " + a + ", which has not finished");
            }
        }
        AtomicReference<Path> running = new AtomicReference<>();
        Thread hook = new Thread(() -> {
            Path t = running.get();
            if (t != null) {
                try {
                    dev.moekit.toolkit.io.FileTrees.delete(t);
                } catch (IOException ignored) {
                    // removed at commit
                }
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Exception last = null;
            for (int attempt = 1; attempt <= retries; attempt++) {
                try {
                    job.runUnit(i, plan, u, running::set);
                    Files.deleteIfExists(failedMarker(i, id));
                    return;
                } catch (Exception e) {
                    last = e;
                    pipeline.eventsForBatch().info("unit " + id + " of stage " + (i + 1) + " failed (attempt " + attempt + " of " + retries + "): " + e.getMessage());
                }
            }
            Files.writeString(failedMarker(i, id), String.valueOf(last.getMessage()));
            throw last;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // shutting down
            }
        }
    }

    Path failedMarker(int i, String id) throws IOException {
        return Files.createDirectories(job.stageDir(i).resolve("units")).resolve("." + id + FAILED);
    }

    /** Commits stage {@code i} (every unit must be done). */
    public void commit(int i) throws Exception {
        if (!job.stageDone(i)) {
            job.commit(i, job.plan(i), 0);
        }
    }

    /** Evaluates, writes the provenance and publishes under the output lock. */
    public Pipeline.Result finish() throws Exception {
        Path output = job.prepared().output();
        try (OutputLock lock = OutputLock.acquire(output)) {
            Outputs.recover(output).forEach(pipeline.eventsForBatch()::info);
            return job.finish();
        }
    }

    /** Reads the batch settings, or null. */
    ObjectNode settings() throws IOException {
        Path f = dir().resolve(BATCH);
        return Files.isRegularFile(f) ? (ObjectNode) Json.STRICT.readTree(f.toFile()) : null;
    }

    void saveSettings(ObjectNode s) throws IOException {
        Path f = dir().resolve(BATCH);
        Path tmp = dir().resolve(".batch.json.tmp");
        Json.PRETTY.writeValue(tmp.toFile(), s);
        Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
