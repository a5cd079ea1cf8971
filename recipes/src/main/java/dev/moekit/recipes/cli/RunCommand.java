package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Methods;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code moekit run}: a recipe through the pipeline; {@code --dry-run} validates and prints the plan only. */
final class RunCommand implements Command {
    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "run a recipe: stages in order, then evaluation, output with provenance (--dry-run: plan only)";
    }

    @Override
    public String arguments() {
        return "<recipe.yaml>";
    }

    @Override
    public Options options() {
        return Main.options(Main.flag("replace", "replace an existing output (same as 'replace: true')"),
                Main.opt("output", "DIR", "override the recipe's output folder"),
                Main.opt("device", "cpu|gpu[:N]", "override the recipe's device"),
                Main.flag("dry-run", "validate everything and print the plan (stages, units, bytes, calibration); write nothing"),
                Main.flag("json", "with --dry-run: the plan as JSON"));
    }

    @Override
    public String footer() {
        StringBuilder b = new StringBuilder("Stages available ('moekit methods' lists every method and its parameters):\n");
        Methods.standard().kind(StageType.KIND).all().forEach(p -> b.append(String.format("  %-20s %s%n", p.name(), p.summary())));
        return b.toString();
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Recipe r = Recipe.read(Path.of(Main.arg(cl, 0, "<recipe.yaml>")));
        Main.expectArgs(cl, 1);
        if (cl.hasOption("replace") || cl.hasOption("output")) {
            r = r.withOutput(cl.hasOption("output") ? Path.of(cl.getOptionValue("output")) : r.output(), r.replace() || cl.hasOption("replace"));
        }
        if (cl.hasOption("device")) {
            try {
                r = r.withDevice(cl.getOptionValue("device"));
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        Pipeline p = Pipeline.standard(new ProgressBar(System.err));
        Prepared plan = p.prepare(r);
        if (cl.hasOption("dry-run")) {
            out.print(cl.hasOption("json") ? Json.PRETTY.writeValueAsString(plan.toJson()) + "\n" : plan.describe());
            return 0;
        }
        Pipeline.Result res = p.run(plan);
        Reports.print(res, out);
        out.println("moekit: wrote " + res.output());
        return 0;
    }
}
