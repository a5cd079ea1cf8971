package dev.moekit.pipeline.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Job;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.WorkUnit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a batch job on this machine: a coordinator plans each stage, starts up to {@code workers} worker processes at
 * a time for its units (worker k on device k mod the device list: {@code gpu:0..N-1} or {@code cpu}), respecting the
 * units' dependencies, commits the stage when every unit is done, and finishes the job. A worker retries its unit
 * ({@code retries}); a unit that still fails stops the job, naming its log.
 */
final class LocalExecutor {
    private final BatchJob job;
    private final Events events;
    private final List<Process> running = new ArrayList<>();

    LocalExecutor(BatchJob job, Events events) {
        this.job = job;
        this.events = events;
    }

    void coordinate() throws Exception {
        ObjectNode s = job.settings();
        int workers = Math.max(1, s == null ? 1 : s.path("workers").asInt(1));
        int retries = s == null ? 1 : s.path("retries").asInt(1);
        List<String> devices = new ArrayList<>();
        if (s != null) {
            s.path("devices").forEach(d -> devices.add(d.asText()));
        }
        Thread hook = new Thread(() -> running.forEach(Process::destroy));
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Job j = job.job();
            Launch launch = Launch.current();
            for (int i = 0; i < j.stages(); i++) {
                if (j.stageDone(i)) {
                    continue;
                }
                Plan plan = j.plan(i);
                runUnits(i, plan, workers, retries, devices, launch);
                job.commit(i);
                events.info(String.format("stage %d/%d %s committed (%d unit(s))", i + 1, j.stages(), plan.stage(), plan.units().size()));
            }
            events.info("wrote " + job.finish().output());
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // shutting down
            }
        }
    }

    private void runUnits(int stage, Plan plan, int workers, int retries, List<String> devices, Launch launch) throws Exception {
        Job j = job.job();
        Deque<WorkUnit> pending = new ArrayDeque<>(plan.units().stream().filter(u -> !j.unitDone(stage, u.id())).toList());
        Map<Process, WorkUnit> active = new HashMap<>();
        Map<Process, Path> logs = new HashMap<>();
        int started = 0;
        int done = plan.units().size() - pending.size();
        while (!pending.isEmpty() || !active.isEmpty()) {
            for (var it = pending.iterator(); it.hasNext() && active.size() < workers; ) {
                WorkUnit u = it.next();
                if (!u.after().stream().allMatch(a -> j.unitDone(stage, a))) {
                    continue;
                }
                it.remove();
                List<String> args = new ArrayList<>(List.of("unit", job.dir().toString(), String.valueOf(stage + 1), u.id(), "--retries", String.valueOf(retries)));
                if (!devices.isEmpty()) {
                    args.add("--device");
                    args.add(devices.get(started % devices.size()));
                }
                started++;
                Path log = job.logs().resolve(String.format("s%02d-%s.log", stage + 1, u.id()));
                Process p = new ProcessBuilder(launch.command(args.toArray(String[]::new))).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                running.add(p);
                active.put(p, u);
                logs.put(p, log);
            }
            Process finished = null;
            while (finished == null) {
                for (Process p : active.keySet()) {
                    if (!p.isAlive()) {
                        finished = p;
                        break;
                    }
                }
                if (finished == null) {
                    Thread.sleep(50);
                }
            }
            WorkUnit u = active.remove(finished);
            running.remove(finished);
            if (finished.exitValue() != 0 || !j.unitDone(stage, u.id())) {
                active.keySet().forEach(Process::destroy);
                throw new IllegalStateException("unit " + u.id() + " of stage " + (stage + 1) + " (" + plan.stage() + ") failed after " + retries
                        + " attempt(s); log: " + logs.get(finished) + lastLine(logs.get(finished)));
            }
            done++;
            events.update(plan.stage() + " units", done, plan.units().size());
        }
    }

    private static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            for (int k = lines.size() - 1; k >= 0; k--) {
                if (!lines.get(k).isBlank()) {
                    return " (" + lines.get(k).strip() + ")";
                }
            }
        } catch (IOException ignored) {
            // the log path is named anyway
        }
        return "";
    }
}
