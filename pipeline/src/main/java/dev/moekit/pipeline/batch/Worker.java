package dev.moekit.pipeline.batch;

import dev.moekit.pipeline.Events;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The batch worker process: {@code unit JOB STAGE (UNIT | #INDEX) [--retries N] [--device D]}, {@code commit JOB
 * STAGE}, {@code finish JOB}, {@code coordinate JOB} (the local executor's driver). STAGE is 1-based. Exit 0 when the
 * step is done, 1 when it failed (the message says why, and the job folder records the failure), 2 for a wrong command.
 */
public final class Worker {
    private Worker() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Events events = m -> System.err.println("moekit worker: " + m);
        try {
            if (args.length < 2) {
                throw new IllegalArgumentException("usage: unit|commit|finish|coordinate JOB ...");
            }
            List<String> rest = Arrays.asList(args).subList(2, args.length);
            String device = option(rest, "--device");
            int retries = option(rest, "--retries") == null ? 1 : Integer.parseInt(option(rest, "--retries"));
            BatchJob job = BatchJob.load(Path.of(args[1]), events, device);
            switch (args[0]) {
                case "unit" -> {
                    int stage = Integer.parseInt(rest.get(0)) - 1;
                    String id = rest.get(1);
                    if (id.startsWith("#")) {
                        id = job.units(stage).get(Integer.parseInt(id.substring(1))).id();
                    }
                    job.runUnit(stage, id, retries);
                    events.info("unit " + id + " of stage " + (stage + 1) + " done");
                }
                case "commit" -> {
                    int stage = Integer.parseInt(rest.get(0)) - 1;
                    job.commit(stage);
                    events.info("stage " + (stage + 1) + " committed");
                }
                case "finish" -> events.info("wrote " + job.finish().output());
                case "coordinate" -> new LocalExecutor(job, events).coordinate();
                default -> throw new IllegalArgumentException("unknown worker step '" + args[0] + "'");
            }
            return 0;
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            System.err.println("moekit worker: " + e.getMessage());
            return e instanceof IllegalArgumentException && e.getMessage() != null && e.getMessage().startsWith("usage") ? 2 : 1;
        } catch (Exception e) {
            System.err.println("moekit worker: failed: " + e.getMessage());
            return 1;
        }
    }

    private static String option(List<String> args, String name) {
        int i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : null;
    }
}
