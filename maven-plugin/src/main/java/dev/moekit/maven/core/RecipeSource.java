package dev.moekit.maven.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.Yaml;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The recipe of a {@code compress} execution: a recipe file or inline YAML (the same keys), with the plugin's input and
 * output in place of the recipe's {@code model} and {@code output}, read as strictly as {@code moekit run} reads it
 * (unknown keys fail with the closest known key, before any work).
 */
public final class RecipeSource {
    private RecipeSource() {}

    /**
     * Reads and resolves the recipe.
     *
     * @param file          the recipe file, or null
     * @param inline        inline YAML, or null; paths in it resolve against {@code basedir}
     * @param basedir       the project's base directory
     * @param input         the plugin's input checkpoint, or null to keep the recipe's {@code model}
     * @param output        the plugin's output folder, or null for {@code <defaultParent>/<input folder name>-compressed}
     * @param defaultParent where outputs go by default ({@code target/moekit})
     * @param device        the plugin's device, or null to keep the recipe's
     * @param replace       replace an existing output
     */
    public static Recipe resolve(Path file, String inline, Path basedir, Path input, Path output, Path defaultParent, String device,
                                 boolean replace) throws TaskFailure {
        boolean hasInline = inline != null && !inline.isBlank();
        if (file != null && hasInline) {
            throw new TaskFailure("set either <recipe> or <recipeInline>, not both");
        }
        if (file == null && !hasInline) {
            throw new TaskFailure("no recipe: set <recipe> (a recipe file) or <recipeInline> (the recipe's YAML)");
        }
        String where = file != null ? file.toString() : "<recipeInline>";
        Path base = file != null ? file.toAbsolutePath().normalize().getParent() : basedir;
        JsonNode tree;
        try {
            tree = Yaml.parse(file != null ? read(file) : inline);
        } catch (IllegalArgumentException e) {
            throw new TaskFailure(where + ": " + e.getMessage());
        }
        if (!(tree instanceof ObjectNode root)) {
            throw new TaskFailure(where + ": a recipe is a mapping with stages (and optionally model, calibration, eval, device, seed)");
        }
        ObjectNode r = root.deepCopy();
        if (input != null) {
            r.put("model", input.toAbsolutePath().normalize().toString());
        } else if (!r.hasNonNull("model")) {
            throw new TaskFailure(where + ": no input checkpoint: set <input> or the recipe's 'model'");
        }
        if (!r.path("model").isTextual() || r.path("model").asText().isBlank()) {
            throw new TaskFailure(where + ": 'model' must be a folder path, got " + r.path("model"));
        }
        Path model = base.resolve(r.path("model").asText()).toAbsolutePath().normalize();
        Path out = output != null ? output : defaultParent.resolve(model.getFileName() + "-compressed");
        r.put("output", out.toAbsolutePath().normalize().toString());
        Recipe recipe;
        try {
            recipe = Recipe.parse(r, base);
            recipe = recipe.withOutput(recipe.output(), replace);
            if (device != null && !device.isBlank()) {
                recipe = recipe.withDevice(device.trim());
            }
        } catch (IllegalArgumentException e) {
            throw new TaskFailure(where + ": " + e.getMessage());
        }
        return recipe;
    }

    /** The recipe as the fork reads it: JSON (JSON is YAML), every path absolute, defaults resolved. */
    public static String text(Recipe r) throws IOException {
        return Json.PRETTY.writeValueAsString(r.toJson()) + "\n";
    }

    /**
     * The recipe's identity for up-to-date checks: its resolved form (defaults filled in, paths absolute) with keys in
     * order, without {@code replace} (which changes no result); comments, key order and number spelling do not count.
     */
    public static String canonical(Recipe r) throws IOException {
        ObjectNode n = r.toJson();
        n.remove("replace");
        return SORTED.writeValueAsString(Json.COMPACT.treeToValue(n, Object.class));
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper SORTED = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();

    private static String read(Path file) throws TaskFailure {
        try {
            if (!Files.isRegularFile(file)) {
                throw new TaskFailure("recipe " + file + " not found");
            }
            if (Files.size(file) > Recipe.MAX_BYTES) {
                throw new TaskFailure(file + ": a recipe is at most " + Recipe.MAX_BYTES + " bytes");
            }
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new TaskFailure(file + ": not UTF-8 text");
        } catch (IOException e) {
            throw new TaskFailure(file + ": cannot read (" + e.getMessage() + ")");
        }
    }
}
