package dev.moekit.pipeline.batch;

import java.util.List;

/**
 * How a recipe runs as a batch job.
 *
 * @param executor  {@code local} (worker processes on this machine) or {@code slurm} (a job array per stage)
 * @param workers   local: worker processes at once; slurm: array tasks running at once (0 = no limit)
 * @param devices   devices the workers use in turn ({@code cpu}, or {@code gpu:0}, {@code gpu:1}, ...); empty = the recipe's
 * @param retries   attempts per unit before the job stops
 * @param slurm     Slurm settings (ignored by the local executor)
 */
public record BatchOptions(String executor, int workers, List<String> devices, int retries, Slurm slurm) {
    public BatchOptions {
        devices = List.copyOf(devices);
        if (!executor.equals("local") && !executor.equals("slurm")) {
            throw new IllegalArgumentException("executor must be local or slurm, got '" + executor + "'");
        }
        if (workers < 0 || workers > 4096) {
            throw new IllegalArgumentException("workers must be in 0..4096, got " + workers);
        }
        if (retries < 1 || retries > 100) {
            throw new IllegalArgumentException("retries must be in 1..100, got " + retries);
        }
    }

    /**
     * sbatch settings.
     *
     * @param partition  {@code --partition}, or null
     * @param account    {@code --account}, or null
     * @param time       {@code --time} per task (e.g. {@code 4:00:00}), or null
     * @param mem        {@code --mem} per task (e.g. {@code 64G}), or null
     * @param gres       {@code --gres} per task (e.g. {@code gpu:1}), or null for none
     * @param cpus       {@code --cpus-per-task}, 0 for the default
     * @param extra      further {@code #SBATCH} lines, verbatim (e.g. {@code --qos=high})
     */
    public record Slurm(String partition, String account, String time, String mem, String gres, int cpus, List<String> extra) {
        public Slurm {
            extra = List.copyOf(extra);
            for (String s : java.util.Arrays.asList(partition, account, time, mem, gres)) {
                if (s != null && !s.matches("[A-Za-z0-9_:.,=+-]+")) {
                    throw new IllegalArgumentException("Slurm setting '" + s + "' holds characters that cannot go into an #SBATCH line");
                }
            }
            for (String e : extra) {
                if (!e.startsWith("--") || e.contains("\n")) {
                    throw new IllegalArgumentException("extra #SBATCH lines are options such as --qos=high, got '" + e + "'");
                }
            }
        }

        public static Slurm defaults() {
            return new Slurm(null, null, null, null, null, 0, List.of());
        }
    }
}
