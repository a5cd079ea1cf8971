package dev.moekit.recipes.cli;

import dev.moekit.recipes.run.Recipe;
import dev.moekit.recipes.run.RecipeRunner;
import dev.moekit.toolkit.method.Stages;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code moekit run <recipe.yaml>}: validate, run the stages, evaluate, write the output with provenance. */
final class RunCommand implements Command {
    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "run a recipe: stages in order, then evaluation, output with provenance";
    }

    @Override
    public String arguments() {
        return "<recipe.yaml>";
    }

    @Override
    public Options options() {
        return Main.options(Main.flag("replace", "replace an existing output (same as 'replace: true')"),
                Main.opt("output", "DIR", "override the recipe's output folder"));
    }

    @Override
    public String footer() {
        StringBuilder b = new StringBuilder("Stages available:\n");
        Stages.load().all().values().forEach(p -> b.append(String.format("  %-20s %s%n", p.name(), p.summary())));
        return b.toString();
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Recipe r = Recipe.read(Path.of(Main.arg(cl, 0, "<recipe.yaml>")));
        Main.expectArgs(cl, 1);
        if (cl.hasOption("replace") || cl.hasOption("output")) {
            r = new Recipe(r.model(), cl.hasOption("output") ? Path.of(cl.getOptionValue("output")) : r.output(),
                    r.replace() || cl.hasOption("replace"), r.seed(), r.device(), r.calibration(), r.stages(), r.eval());
        }
        RecipeRunner.Result res = new RecipeRunner(Stages.load(), Evaluations.forCli(out), msg -> out.println("moekit: " + msg)).run(r);
        out.println("moekit: wrote " + res.output());
        return 0;
    }
}
