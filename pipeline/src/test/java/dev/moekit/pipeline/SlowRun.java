package dev.moekit.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.NoParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A child process for {@link SignalTest}: runs a recipe whose one stage writes a file, says so, then hangs. */
public final class SlowRun {
    static final class Slow extends SingleUnitStage<NoParams> {
        Slow() {
            super("slow", "writes, then sleeps", "", NoParams.class, Calibration.NONE);
        }

        @Override
        protected Planned planOutput(NoParams p, PlanInput in, StageContext ctx) {
            return new Planned(in.layout(), false, List.of(), null);
        }

        @Override
        protected JsonNode run(NoParams p, Plan plan, Path input, List<Path> extra, Path output, StageContext ctx) throws Exception {
            Path partial = output.resolveSibling("checkpoint.partial");
            Files.createDirectories(partial);
            Files.write(partial.resolve("big.bin"), new byte[1 << 20]);
            System.out.println("WRITING");
            System.out.flush();
            Thread.sleep(120_000);
            return null;
        }
    }

    private SlowRun() {}

    public static void main(String[] args) throws Exception {
        new Pipeline(Methods.of(List.of(new Slow())), Events.NONE).run(Recipe.read(Path.of(args[0])));
    }
}
