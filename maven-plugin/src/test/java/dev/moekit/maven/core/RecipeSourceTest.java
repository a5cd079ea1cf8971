package dev.moekit.maven.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.pipeline.recipe.Recipe;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recipes from a file or inline YAML, with the plugin's input and output in place of the recipe's model and output. */
class RecipeSourceTest {
    static final Path MODEL = UpToDateTest.MODEL;

    @TempDir
    Path tmp;

    @Test
    void inlineRecipeTakesThePluginsInputAndTheDefaultOutput() throws Exception {
        Recipe r = RecipeSource.resolve(null, "eval: {data: [d/*.txt], windows: 2}\nstages: [{prune: {method: stun, experts: 0.25}}]", tmp, MODEL, null,
                tmp.resolve("target/moekit"), "gpu", false);
        assertEquals(MODEL, r.model());
        assertEquals(tmp.resolve("target/moekit/mixtral-tiny-compressed"), r.output());
        assertEquals("gpu:0", r.device());
        assertEquals(tmp.resolve("d/*.txt").toString(), r.eval().data().get(0), "inline paths resolve against the project");
    }

    @Test
    void fileRecipeKeepsItsModelButNotItsOutput() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("recipes"));
        Path f = Files.writeString(dir.resolve("r.yaml"), "model: " + MODEL + "\noutput: somewhere\ncalibration: {data: [cal/*.txt]}\nstages: [{prune: {method: stun}}]\n");
        Recipe r = RecipeSource.resolve(f, null, tmp, null, tmp.resolve("out/x"), tmp.resolve("target/moekit"), null, true);
        assertEquals(MODEL, r.model());
        assertEquals(tmp.resolve("out/x"), r.output());
        assertTrue(r.replace());
        assertEquals("cpu", r.device());
        assertEquals(dir.resolve("cal/*.txt").toString(), r.calibration().data().get(0), "file paths resolve against the recipe's folder");
    }

    @Test
    void theForksRecipeReadsBackAsTheSameRecipe() throws Exception {
        Recipe r = RecipeSource.resolve(null, "seed: 7\ncalibration: {windows: 4, all_experts: true}\neval: {windows: 2, window: 64}\n"
                + "stages: [{prune: {method: stun, experts: 0.25}}]", tmp, MODEL, null, tmp.resolve("t"), null, true);
        Path f = Files.writeString(tmp.resolve("resolved.json"), RecipeSource.text(r));
        assertEquals(r.toJson(), Recipe.read(f).toJson());
    }

    @Test
    void misspeltKeyFailsWithTheClosestKnownOne() {
        TaskFailure e = assertThrows(TaskFailure.class, () -> RecipeSource.resolve(null, "stage: [{prune: {method: stun}}]", tmp, MODEL, null, tmp, null, false));
        assertEquals("<recipeInline>: unknown key 'stage' (did you mean 'stages'?) (known: calibration, device, eval, model, output, replace, seed, stages)",
                e.getMessage());
    }

    @Test
    void clearErrors() {
        assertEquals("no recipe: set <recipe> (a recipe file) or <recipeInline> (the recipe's YAML)",
                assertThrows(TaskFailure.class, () -> RecipeSource.resolve(null, " ", tmp, MODEL, null, tmp, null, false)).getMessage());
        assertEquals("set either <recipe> or <recipeInline>, not both",
                assertThrows(TaskFailure.class, () -> RecipeSource.resolve(tmp.resolve("r.yaml"), "stages: []", tmp, MODEL, null, tmp, null, false)).getMessage());
        assertEquals("<recipeInline>: no input checkpoint: set <input> or the recipe's 'model'",
                assertThrows(TaskFailure.class, () -> RecipeSource.resolve(null, "stages: [convert]", tmp, null, null, tmp, null, false)).getMessage());
        assertEquals("recipe " + tmp.resolve("missing.yaml") + " not found",
                assertThrows(TaskFailure.class, () -> RecipeSource.resolve(tmp.resolve("missing.yaml"), null, tmp, MODEL, null, tmp, null, false)).getMessage());
        assertTrue(assertThrows(TaskFailure.class, () -> RecipeSource.resolve(null, "stages: [{prune: {method: stun}}]", tmp, MODEL, null, tmp, "tpu", false))
                .getMessage().contains("device must be cpu, gpu or gpu:N, got 'tpu'"));
    }
}
