package dev.moekit.pipeline.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Job;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Batch jobs: a recipe's plan split into work units and run by an executor, {@code local} worker processes or a
 * {@code slurm} cluster, with the job's state in {@code <output>.work/}. The result is the same bytes as
 * {@link Pipeline#run} of the same recipe, whatever the number of workers. {@code moekit batch submit|status|resume|
 * cancel} call this.
 */
public final class Batch {
    private Batch() {}

    /** What a submission did. */
    public record Submitted(Path job, String executor, List<String> ids) {}

    /**
     * Creates the job of {@code prepared} and hands it to the executor. With {@code wait}, returns once the job has
     * finished (the output is in place) and throws if it failed.
     */
    public static Submitted submit(Pipeline pipeline, Prepared prepared, BatchOptions o, boolean wait, Events events) throws Exception {
        BatchJob job = BatchJob.create(pipeline, prepared);
        ObjectNode s = Json.PRETTY.createObjectNode();
        s.put("executor", o.executor());
        s.put("workers", o.workers());
        s.put("retries", o.retries());
        o.devices().forEach(s.putArray("devices")::add);
        s.set("slurm", dev.moekit.toolkit.method.Params.toJson(o.slurm()));
        s.put("submitted", Instant.now().toString());
        job.saveSettings(s);
        return start(job, o, wait, events);
    }

    private static Submitted start(BatchJob job, BatchOptions o, boolean wait, Events events) throws Exception {
        if (o.executor().equals("slurm")) {
            SlurmExecutor ex = new SlurmExecutor(job, events);
            List<String> ids = ex.submit(o);
            if (wait) {
                waitSlurm(job, ids.getLast(), events);
            }
            return new Submitted(job.dir(), "slurm", ids);
        }
        if (wait) {
            new LocalExecutor(job, events).coordinate();
            return new Submitted(job.dir(), "local", List.of());
        }
        Path log = job.logs().resolve("coordinator.log");
        Process p = new ProcessBuilder(Launch.current().command("coordinate", job.dir().toString())).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        ObjectNode s = job.settings();
        s.put("coordinator_pid", p.pid());
        job.saveSettings(s);
        events.info("started the local coordinator (pid " + p.pid() + "); log: " + log);
        return new Submitted(job.dir(), "local", List.of(String.valueOf(p.pid())));
    }

    private static void waitSlurm(BatchJob job, String finishId, Events events) throws Exception {
        Path output = job.job().prepared().output();
        while (true) {
            boolean finished = !Files.isDirectory(job.dir()) && Files.isRegularFile(output.resolve(Outputs.PROVENANCE));
            if (finished) {
                return;
            }
            String st = SlurmExecutor.state(finishId);
            if (st == null) {
                Thread.sleep(1000); // the finish job may just have ended: look once more
                if (!Files.isDirectory(job.dir()) && Files.isRegularFile(output.resolve(Outputs.PROVENANCE))) {
                    return;
                }
                throw new IllegalStateException("the Slurm job ended without finishing; see " + job.dir().resolve("slurm") + " ('moekit batch status "
                        + job.dir() + "', then 'moekit batch resume')");
            }
            if (st.contains("DependencyNeverSatisfied")) {
                throw new IllegalStateException("a unit or commit job failed or was cancelled (" + st + "); logs in " + job.dir().resolve("slurm")
                        + "; 'moekit batch resume " + job.dir() + "' submits what is left");
            }
            Thread.sleep(1000);
        }
    }

    /** Submits again what is not done (after a failure, a cancel or a killed task), with the job's settings. */
    public static Submitted resume(Path jobDir, boolean wait, Events events, BatchOptions.Slurm slurm) throws Exception {
        BatchJob job = BatchJob.load(jobDir, events, null);
        ObjectNode s = job.settings();
        if (s == null) {
            throw new IllegalArgumentException(jobDir + ": not a batch job (no batch.json)");
        }
        cancelRunning(job, events);
        List<String> devices = new java.util.ArrayList<>();
        s.path("devices").forEach(d -> devices.add(d.asText()));
        BatchOptions o = new BatchOptions(s.path("executor").asText("local"), s.path("workers").asInt(1), devices, s.path("retries").asInt(1),
                slurm == null || slurm.equals(BatchOptions.Slurm.defaults()) ? stored(s) : slurm);
        clearFailures(job);
        return start(job, o, wait, events);
    }

    private static BatchOptions.Slurm stored(ObjectNode s) {
        return s.has("slurm") ? dev.moekit.toolkit.method.Params.bind("batch slurm settings", s.get("slurm"), BatchOptions.Slurm.class)
                : BatchOptions.Slurm.defaults();
    }

    /** Cancels a job's Slurm jobs or local coordinator; finished units stay for resume. */
    public static void cancel(Path jobDir, Events events) throws Exception {
        cancelRunning(BatchJob.load(jobDir, events, null), events);
    }

    private static void cancelRunning(BatchJob job, Events events) throws Exception {
        ObjectNode s = job.settings();
        if (s == null) {
            return;
        }
        if (s.path("executor").asText().equals("slurm")) {
            new SlurmExecutor(job, events).cancel();
        } else if (s.has("coordinator_pid")) {
            ProcessHandle.of(s.path("coordinator_pid").asLong()).ifPresent(h -> {
                h.destroy();
                h.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();
            });
            s.remove("coordinator_pid");
            job.saveSettings(s);
        }
    }

    private static void clearFailures(BatchJob job) throws IOException {
        Job j = job.job();
        for (int i = 0; i < j.stages(); i++) {
            Path units = j.stageDir(i).resolve("units");
            if (Files.isDirectory(units)) {
                try (var fs = Files.list(units)) {
                    for (Path f : fs.filter(f -> f.getFileName().toString().endsWith(BatchJob.FAILED)).toList()) {
                        Files.delete(f);
                    }
                }
            }
        }
    }

    /** Units done, running and failed per stage, and an ETA from the finished units' times. */
    public static String status(Path jobDir, Events events) throws Exception {
        BatchJob job = BatchJob.load(jobDir, events, null);
        Job j = job.job();
        StringBuilder b = new StringBuilder();
        int totalLeft = 0;
        double secs = 0;
        int timed = 0;
        for (int i = 0; i < j.stages(); i++) {
            String name = j.prepared().stages().get(i).name();
            if (j.stageDone(i)) {
                b.append(String.format(Locale.ROOT, "stage %d/%d %s: committed%n", i + 1, j.stages(), name));
                continue;
            }
            List<dev.moekit.pipeline.stage.WorkUnit> units = job.units(i);
            int done = 0;
            int failed = 0;
            int running = 0;
            Path ud = j.stageDir(i).resolve("units");
            for (var u : units) {
                if (j.unitDone(i, u.id())) {
                    done++;
                    var m = Json.STRICT.readTree(ud.resolve(u.id()).resolve("unit.json").toFile());
                    secs += m.path("seconds").asDouble();
                    timed++;
                } else if (Files.exists(ud.resolve("." + u.id() + BatchJob.FAILED))) {
                    failed++;
                } else if (Files.isDirectory(ud)) {
                    try (var fs = Files.list(ud)) {
                        if (fs.anyMatch(f -> f.getFileName().toString().startsWith("." + u.id() + ".tmp-"))) {
                            running++;
                        }
                    }
                }
            }
            totalLeft += units.size() - done;
            b.append(String.format(Locale.ROOT, "stage %d/%d %s: %d/%d units done, %d running, %d failed%n", i + 1, j.stages(), name, done, units.size(),
                    running, failed));
        }
        ObjectNode s = job.settings();
        int workers = s == null ? 1 : Math.max(1, s.path("workers").asInt(1));
        if (timed > 0 && totalLeft > 0) {
            b.append("ETA about ").append(Duration.ofSeconds(Math.round(secs / timed * totalLeft / workers))).append(" for the units left\n");
        }
        return b.toString();
    }
}
