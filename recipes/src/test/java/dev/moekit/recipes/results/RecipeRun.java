package dev.moekit.recipes.results;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Path;

/**
 * One row of a results table measured the way users run moekit: a recipe through the pipeline (calibration on the
 * valid splits, evaluation against the input on the test splits), so the tables report what the CLI and the Maven
 * plugin produce.
 */
final class RecipeRun {
    private RecipeRun() {}

    /** Runs {@code stages} (a JSON list as in a recipe) on the setup's model into {@code out}; returns the result. */
    static Pipeline.Result run(ModelSetup setup, Path out, ArrayNode stages) throws Exception {
        ObjectNode r = Json.PRETTY.createObjectNode();
        r.put("model", setup.original().toString());
        r.put("output", out.toString());
        r.put("replace", true);
        r.putObject("calibration").put("windows", setup.calibration().windowsPerFile())
                .putArray("data").add(setup.original().getParent().getParent().resolve("data/*.valid.txt").toString());
        r.set("stages", stages);
        r.putObject("eval").put("windows", setup.eval().windows()).put("window", setup.eval().window())
                .putArray("data").add(setup.original().getParent().getParent().resolve("data/*.test.txt").toString());
        return Pipeline.standard(m -> System.err.println("  " + setup.name() + ": " + m)).run(Recipe.parse(r, null));
    }

    /** {@code [{name: params}]}. */
    static ArrayNode stages(Object... nameAndParams) {
        ArrayNode a = Json.PRETTY.createArrayNode();
        for (int i = 0; i < nameAndParams.length; i += 2) {
            a.addObject().set((String) nameAndParams[i], (JsonNode) nameAndParams[i + 1]);
        }
        return a;
    }

    static ObjectNode params(Object... kv) {
        ObjectNode o = Json.PRETTY.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.set((String) kv[i], Json.PRETTY.valueToTree(kv[i + 1]));
        }
        return o;
    }

    /** The report of stage {@code i} of a run. */
    static JsonNode report(Pipeline.Result r, int i) {
        return r.provenance().path("stages").path(i).path("report");
    }

    static Events quiet() {
        return Events.NONE;
    }
}
