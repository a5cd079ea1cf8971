package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.recipe.EvalSettings;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.pipeline.stage.ParameterException;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;

/**
 * What the method commands ({@code prune}, {@code quantize}) share: the options of a recipe's header (calibration,
 * device, seed, eval, replace) and running the stages they build as a recipe through the {@link Pipeline}, so a
 * command line gets the same validation, resume and provenance as a recipe file. A stage parameter that does not
 * bind came from an option value, so it is a usage error (exit 2).
 */
final class OneStepRecipe {
    private OneStepRecipe() {}

    /** The recipe-header options, appended to a command's own. */
    static Option[] with(Option... own) {
        List<Option> all = new ArrayList<>(List.of(own));
        all.add(Option.builder().longOpt("calibration").hasArgs().argName("FILE|GLOB")
                .desc("calibration text (default: *.valid.txt of $MOEKIT_DATA or ../shared/data beside the checkout)").get());
        all.add(Main.opt("calibration-windows", "N", "windows of 256 tokens per calibration file (default 16)"));
        all.add(Main.flag("all-experts", "route every calibration token through every expert for statistics"));
        all.add(Main.opt("device", "cpu|gpu[:N]", "where calibration runs (default cpu)"));
        all.add(Main.opt("seed", "N", "seed (default 0)"));
        all.add(Main.flag("eval", "evaluate the result against the input (perplexity on the test splits, KL, top-1)"));
        all.add(Main.flag("replace", "replace an existing output once the new one is complete"));
        all.add(Main.flag("dry-run", "validate and print the plan; write nothing"));
        return all.toArray(Option[]::new);
    }

    /** The {@code <in> <out>} arguments of a method command (exactly two). */
    static Path[] inOut(CommandLine cl) {
        Path in = Path.of(Main.arg(cl, 0, "<in> checkpoint folder"));
        Path o = Path.of(Main.arg(cl, 1, "<out> folder"));
        Main.expectArgs(cl, 2);
        return new Path[] {in, o};
    }

    static int run(CommandLine cl, PrintStream out, Path in, Path o, List<StageEntry> stages) throws Exception {
        return run(cl, out, in, o, stages, res -> { });
    }

    /** As {@link #run(CommandLine, PrintStream, Path, Path, List)}, then hands the finished result to {@code after}. */
    static int run(CommandLine cl, PrintStream out, Path in, Path o, List<StageEntry> stages,
                   java.util.function.Consumer<Pipeline.Result> after) throws Exception {
        CalibrationSettings cal = new CalibrationSettings(cl.hasOption("calibration") ? List.of(cl.getOptionValues("calibration")) : List.of(),
                Main.intValue(cl, "calibration-windows", 16, 1, 1_000_000), 256, cl.hasOption("all-experts"));
        Recipe r;
        try {
            r = new Recipe(in.toAbsolutePath().normalize(), o.toAbsolutePath().normalize(), cl.hasOption("replace"),
                    Main.longValue(cl, "seed", 0), cl.getOptionValue("device", "cpu"), cal, stages, cl.hasOption("eval") ? EvalSettings.defaults() : null);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        ProgressBar events = new ProgressBar(System.err);
        Pipeline p = Pipeline.standard(events);
        Prepared plan;
        try {
            plan = p.prepare(r);
        } catch (ParameterException e) {
            throw new UsageException(e.getMessage());
        }
        if (cl.hasOption("dry-run")) {
            out.print(plan.describe());
            return 0;
        }
        Pipeline.Result res = p.run(plan);
        after.accept(res);
        Reports.print(res, out);
        out.println("moekit: wrote " + res.output());
        return 0;
    }
}
