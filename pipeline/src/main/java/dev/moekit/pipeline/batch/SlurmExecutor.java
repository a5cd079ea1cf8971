package dev.moekit.pipeline.batch;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Job;
import dev.moekit.pipeline.stage.WorkUnit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Submits a batch job to Slurm: per stage not yet committed, its unfinished units in dependency waves ({@link #waves}),
 * one job array per wave (one unit per array task, {@code --array=...%workers}), each wave's array depending on the
 * previous one ({@code afterok}); then a commit job that depends on the last array, the next stage's first array
 * depending on that commit, and a finish job (evaluation, provenance, publish) last. Independent units (RTN, convert,
 * per-layer pruning writes) form one wave; GPTQ's sequential layers form one wave per layer group. Scripts and logs live in the job folder's {@code slurm/}. Job ids
 * are recorded in {@code batch.json} for status, cancel and resume.
 */
final class SlurmExecutor {
    private final BatchJob job;
    private final Events events;

    SlurmExecutor(BatchJob job, Events events) {
        this.job = job;
        this.events = events;
    }

    /** Submits everything not done yet; returns the Slurm job ids in submission order (the last is the finish job). */
    List<String> submit(BatchOptions o) throws Exception {
        Job j = job.job();
        Path dir = Files.createDirectories(job.dir().resolve("slurm"));
        Launch launch = Launch.current();
        List<String> ids = new ArrayList<>();
        String prev = null;
        int waveScripts = 0;
        for (int i = 0; i < j.stages(); i++) {
            if (j.stageDone(i)) {
                continue;
            }
            List<WorkUnit> units = job.units(i);
            List<Integer> missing = new ArrayList<>();
            for (int k = 0; k < units.size(); k++) {
                if (!j.unitDone(i, units.get(k).id())) {
                    missing.add(k);
                }
            }
            for (List<Integer> wave : waves(units, missing)) {
                String range = String.join(",", wave.stream().map(String::valueOf).toList());
                int limit = o.workers();
                int w = waveScripts++;
                Path script = script(dir, String.format("s%02d-w%02d-units.sh", i + 1, w), o, true,
                        Launch.shell(launch.command("unit", job.dir().toString(), String.valueOf(i + 1), "#${SLURM_ARRAY_TASK_ID}",
                                "--retries", String.valueOf(o.retries()))).replace("'#${SLURM_ARRAY_TASK_ID}'", "\"#${SLURM_ARRAY_TASK_ID}\""));
                List<String> args = new ArrayList<>(List.of("--parsable", "--array=" + range + (limit > 0 ? "%" + limit : ""),
                        "--job-name=moekit-s" + (i + 1), "--output=" + dir.resolve(String.format("s%02d-%%a.log", i + 1))));
                if (prev != null) {
                    args.add("--dependency=afterok:" + prev);
                }
                prev = sbatch(args, script);
                ids.add(prev);
            }
            Path commit = script(dir, String.format("s%02d-commit.sh", i + 1), o, false,
                    Launch.shell(launch.command("commit", job.dir().toString(), String.valueOf(i + 1))));
            List<String> args = new ArrayList<>(List.of("--parsable", "--job-name=moekit-c" + (i + 1),
                    "--output=" + dir.resolve(String.format("s%02d-commit.log", i + 1))));
            if (prev != null) {
                args.add("--dependency=afterok:" + prev);
            }
            prev = sbatch(args, commit);
            ids.add(prev);
        }
        Path finish = script(dir, "finish.sh", o, false, Launch.shell(launch.command("finish", job.dir().toString())));
        List<String> args = new ArrayList<>(List.of("--parsable", "--job-name=moekit-finish", "--output=" + dir.resolve("finish.log")));
        if (prev != null) {
            args.add("--dependency=afterok:" + prev);
        }
        ids.add(sbatch(args, finish));
        ObjectNode s = job.settings();
        ArrayNode all = s.withArray("slurm_jobs");
        ids.forEach(all::add);
        s.put("finish_job", ids.getLast());
        job.saveSettings(s);
        events.info("submitted " + ids.size() + " Slurm job(s): " + String.join(", ", ids) + " (logs in " + dir + ")");
        return ids;
    }

    /**
     * The unfinished units ({@code missing}: indices into {@code units}) in waves: a unit's wave is one after the
     * latest wave of the unfinished units it waits for, so each wave's units are independent of each other and run
     * as one array once the previous wave's array has succeeded.
     */
    static List<List<Integer>> waves(List<WorkUnit> units, List<Integer> missing) {
        java.util.Map<String, Integer> waveOf = new java.util.HashMap<>();
        List<List<Integer>> out = new ArrayList<>();
        for (int k : missing) { // plans list a unit after those it waits for
            WorkUnit u = units.get(k);
            int w = 0;
            for (String a : u.after()) {
                Integer d = waveOf.get(a);
                if (d != null) {
                    w = Math.max(w, d + 1);
                }
            }
            waveOf.put(u.id(), w);
            while (out.size() <= w) {
                out.add(new ArrayList<>());
            }
            out.get(w).add(k);
        }
        return out;
    }

    private static Path script(Path dir, String name, BatchOptions o, boolean units, String command) throws IOException {
        StringBuilder b = new StringBuilder("#!/bin/bash\n");
        BatchOptions.Slurm s = o.slurm();
        if (s.partition() != null) {
            b.append("#SBATCH --partition=").append(s.partition()).append('\n');
        }
        if (s.account() != null) {
            b.append("#SBATCH --account=").append(s.account()).append('\n');
        }
        if (s.time() != null) {
            b.append("#SBATCH --time=").append(s.time()).append('\n');
        }
        if (s.mem() != null) {
            b.append("#SBATCH --mem=").append(s.mem()).append('\n');
        }
        if (s.cpus() > 0) {
            b.append("#SBATCH --cpus-per-task=").append(s.cpus()).append('\n');
        }
        if (units && s.gres() != null) {
            b.append("#SBATCH --gres=").append(s.gres()).append('\n');
        }
        s.extra().forEach(e -> b.append("#SBATCH ").append(e).append('\n'));
        b.append("export DJL_OFFLINE=${DJL_OFFLINE:-true}\n");
        b.append("exec ").append(command).append('\n');
        Path p = dir.resolve(name);
        Files.writeString(p, b.toString(), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    static String sbatch(List<String> args, Path script) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("sbatch"));
        cmd.addAll(args);
        cmd.add(script.toString());
        Process p = slurm(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("sbatch failed for " + script.getFileName() + ": " + out.replace('\n', ' '));
        }
        String id = out.lines().reduce((a, b) -> b).orElse("").split(";")[0].strip();
        if (!id.matches("\\d+")) {
            throw new IllegalStateException("sbatch answered '" + out + "' for " + script.getFileName());
        }
        return id;
    }

    /** A Slurm client command; {@code -Dmoekit.slurm.conf} points it at a cluster's config (tests, non-default clusters). */
    static ProcessBuilder slurm(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        String conf = System.getProperty("moekit.slurm.conf");
        if (conf != null) {
            pb.environment().put("SLURM_CONF", conf);
        }
        return pb;
    }

    /** Slurm's state of job {@code id} (the first task's for arrays), or null when Slurm no longer knows it. */
    static String state(String id) throws IOException, InterruptedException {
        Process p = slurm(List.of("squeue", "-h", "-j", id, "-o", "%T|%r")).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor(30, TimeUnit.SECONDS);
        return p.exitValue() != 0 || out.isEmpty() ? null : out.lines().findFirst().orElse(null);
    }

    /** Cancels every job this batch submitted. */
    void cancel() throws IOException, InterruptedException {
        ObjectNode s = job.settings();
        List<String> ids = new ArrayList<>();
        s.path("slurm_jobs").forEach(n -> ids.add(n.asText()));
        if (ids.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("scancel"));
        cmd.addAll(ids);
        slurm(cmd).start().waitFor(60, TimeUnit.SECONDS);
        s.putArray("slurm_jobs");
        job.saveSettings(s);
    }
}
