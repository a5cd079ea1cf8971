package dev.moekit.recipes.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Scores a finished checkpoint (perplexity, and against a reference: KL divergence, top-1 agreement). */
public interface Evaluation {
    /**
     * @param model     checkpoint to score
     * @param reference the recipe's input model, or null
     */
    JsonNode evaluate(Path model, Path reference, Recipe.EvalSettings settings, String device, Consumer<String> log) throws Exception;
}
