package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Job;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.batch.Batch;
import dev.moekit.pipeline.batch.BatchOptions;
import dev.moekit.pipeline.recipe.Recipe;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code moekit batch submit|status|resume|cancel}: a recipe as a batch job of work units on local worker processes
 * or a Slurm cluster, with the same output bytes as {@code moekit run}.
 */
final class BatchCommand implements Command {
    @Override
    public String name() {
        return "batch";
    }

    @Override
    public String summary() {
        return "run a recipe as a batch job on local workers or Slurm: submit, status, resume, cancel";
    }

    @Override
    public String arguments() {
        return "submit <recipe.yaml> | status <job> | resume <job> | cancel <job>";
    }

    @Override
    public Options options() {
        return Main.options(
                Main.opt("executor", "local|slurm", "where the units run (default local)"),
                Main.opt("workers", "N", "local: worker processes at once (default 1); slurm: array tasks at once (default: no limit)"),
                Main.opt("devices", "LIST", "devices the workers take in turn, e.g. gpu:0,gpu:1 (default: the recipe's)"),
                Main.opt("retries", "N", "attempts per unit before the job stops (default 2)"),
                Main.flag("wait", "return when the job has finished (exit 0) or failed (exit 1)"),
                Main.flag("replace", "replace an existing output (same as 'replace: true')"),
                Main.opt("output", "DIR", "override the recipe's output folder"),
                Main.opt("partition", "P", "slurm: --partition"),
                Main.opt("account", "A", "slurm: --account"),
                Main.opt("time", "T", "slurm: --time per task, e.g. 4:00:00"),
                Main.opt("mem", "M", "slurm: --mem per task, e.g. 64G"),
                Main.opt("gres", "G", "slurm: --gres per unit task, e.g. gpu:1"),
                Main.opt("cpus-per-task", "N", "slurm: --cpus-per-task"),
                Option.builder().longOpt("sbatch").hasArgs().argName("OPTION").desc("slurm: extra #SBATCH option, e.g. --qos=high (repeatable)").get());
    }

    @Override
    public String footer() {
        return "The job folder is <output>.work (give it or the output folder to status/resume/cancel).\n"
                + "Examples:\n  moekit batch submit recipe.yaml --executor local --workers 2 --devices gpu:0,gpu:1 --wait\n"
                + "  moekit batch submit recipe.yaml --executor slurm --partition gpu --gres gpu:1 --time 2:00:00\n"
                + "  moekit batch status out/model.work";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        String sub = Main.arg(cl, 0, "subcommand (submit, status, resume, cancel)");
        ProgressBar events = new ProgressBar(System.err);
        switch (sub) {
            case "submit" -> {
                Recipe r = Recipe.read(Path.of(Main.arg(cl, 1, "<recipe.yaml>")));
                Main.expectArgs(cl, 2);
                if (cl.hasOption("replace") || cl.hasOption("output")) {
                    r = r.withOutput(cl.hasOption("output") ? Path.of(cl.getOptionValue("output")) : r.output(), r.replace() || cl.hasOption("replace"));
                }
                BatchOptions o;
                try {
                    String executor = cl.getOptionValue("executor", "local");
                    int workers = Main.intValue(cl, "workers", executor.equals("local") ? 1 : 0, 0, 4096);
                    List<String> devices = cl.hasOption("devices") ? List.of(cl.getOptionValue("devices").split(",")) : List.of();
                    devices.forEach(dev.moekit.pipeline.recipe.Devices::check);
                    o = new BatchOptions(executor, workers, devices.stream().map(dev.moekit.pipeline.recipe.Devices::check).toList(),
                            Main.intValue(cl, "retries", 2, 1, 100), slurm(cl));
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
                Pipeline p = Pipeline.standard(events);
                Prepared plan = p.prepare(r);
                Batch.Submitted s = Batch.submit(p, plan, o, cl.hasOption("wait"), events);
                out.println("moekit: job " + s.job() + (cl.hasOption("wait") ? " finished; wrote " + plan.output() : " submitted (" + s.executor() + ")"));
                return 0;
            }
            case "status" -> {
                out.print(Batch.status(job(cl), events));
                return 0;
            }
            case "resume" -> {
                Batch.Submitted s = Batch.resume(job(cl), cl.hasOption("wait"), events, slurm(cl));
                out.println("moekit: job " + s.job() + (cl.hasOption("wait") ? " finished" : " resumed (" + s.executor() + ")"));
                return 0;
            }
            case "cancel" -> {
                Batch.cancel(job(cl), events);
                out.println("moekit: cancelled; finished units are kept for 'moekit batch resume'");
                return 0;
            }
            default -> throw new UsageException("unknown batch subcommand '" + sub + "' (submit, status, resume, cancel)");
        }
    }

    private static Path job(CommandLine cl) {
        Path p = Path.of(Main.arg(cl, 1, "<job> folder (<output>.work, or the output folder)")).toAbsolutePath().normalize();
        Main.expectArgs(cl, 2);
        if (!Files.isRegularFile(p.resolve("job.json")) && Files.isDirectory(Job.folder(p))) {
            return Job.folder(p);
        }
        return p;
    }

    private static BatchOptions.Slurm slurm(CommandLine cl) {
        try {
            return new BatchOptions.Slurm(cl.getOptionValue("partition"), cl.getOptionValue("account"), cl.getOptionValue("time"),
                    cl.getOptionValue("mem"), cl.getOptionValue("gres"), Main.intValue(cl, "cpus-per-task", 0, 0, 4096),
                    cl.hasOption("sbatch") ? List.of(cl.getOptionValues("sbatch")) : List.of());
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
