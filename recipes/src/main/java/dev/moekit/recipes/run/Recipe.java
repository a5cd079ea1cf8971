package dev.moekit.recipes.run;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.Params;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A compression recipe: which model, which stages in order, where to write, how to calibrate and evaluate.
 *
 * <pre>{@code
 * model: ../shared/models/mixtral-tiny
 * output: out/mixtral-tiny-stun
 * calibration: {windows: 16}
 * stages:
 *   - prune: {method: stun, experts: 0.25}
 * eval: {windows: 8}
 * }</pre>
 * Relative paths are resolved against the current directory. Unknown keys anywhere are errors.
 *
 * @param model       input checkpoint folder
 * @param output      output folder (must not exist unless {@code replace})
 * @param replace     replace an existing output once the new one is complete
 * @param seed        seed for every random choice
 * @param device      {@code cpu} or {@code gpu[:N]}
 * @param calibration calibration data and window settings
 * @param stages      the stages in order, each a name and its parameters
 * @param eval        evaluation after the last stage, or null for none
 */
public record Recipe(Path model, Path output, boolean replace, long seed, String device, CalibrationSettings calibration,
                     List<StageEntry> stages, EvalSettings eval) {
    /** One stage of the recipe: its registered name and raw parameters (bound by the stage's provider). */
    public record StageEntry(String name, JsonNode params) {}

    /**
     * Evaluation settings.
     *
     * @param data      text files or globs (default: the reference {@code *.test.txt} splits)
     * @param windows   windows per file
     * @param window    tokens per window
     * @param reference compare with the input model (KL divergence, top-1 agreement)
     */
    public record EvalSettings(List<String> data, Integer windows, Integer window, Boolean reference) {
        public EvalSettings {
            data = data == null ? List.of() : List.copyOf(data);
            windows = windows == null ? 32 : windows;
            window = window == null ? 256 : window;
            reference = reference == null || reference;
        }
    }

    /** Raw calibration keys, bound with defaults. */
    record CalibrationKeys(List<String> data, Integer windows, Integer window, Boolean allExperts) {
        CalibrationSettings resolve() {
            return new CalibrationSettings(data == null ? List.of() : data, windows == null ? 16 : windows, window == null ? 256 : window,
                    allExperts != null && allExperts);
        }
    }

    private static final Set<String> KEYS = Set.of("model", "output", "replace", "seed", "device", "calibration", "stages", "eval");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    public Recipe {
        stages = List.copyOf(stages);
        if (stages.isEmpty()) {
            throw new IllegalArgumentException("recipe has no stages");
        }
    }

    /** Reads and validates a recipe file (YAML or JSON). */
    public static Recipe read(Path file) {
        JsonNode root;
        try {
            root = YAML.readTree(Files.readString(file));
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read (" + e.getMessage() + ")");
        }
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    static Recipe parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a recipe is a mapping with model, output and stages");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' (known: " + String.join(", ", KEYS.stream().sorted().toList()) + ")");
            }
        }
        Path model = Path.of(required(root, "model"));
        Path output = Path.of(required(root, "output"));
        CalibrationSettings cal = Params.bind("calibration", root.get("calibration"), CalibrationKeys.class).resolve();
        EvalSettings eval = root.has("eval") && !root.get("eval").isNull() ? Params.bind("eval", root.get("eval"), EvalSettings.class) : null;
        return new Recipe(model, output, root.path("replace").asBoolean(false), root.path("seed").asLong(0), root.path("device").asText("cpu"),
                cal, stages(root.get("stages")), eval);
    }

    private static List<StageEntry> stages(JsonNode node) {
        if (node == null || !node.isArray()) {
            throw new IllegalArgumentException("'stages' must be a list like '- prune: {method: stun}'");
        }
        List<StageEntry> out = new ArrayList<>();
        for (JsonNode s : node) {
            if (s.isTextual()) {
                out.add(new StageEntry(s.asText(), null));
            } else if (s.isObject() && s.size() == 1) {
                Map.Entry<String, JsonNode> e = s.fields().next();
                out.add(new StageEntry(e.getKey(), e.getValue()));
            } else {
                throw new IllegalArgumentException("each stage is '<name>: {parameters}', got " + s);
            }
        }
        return out;
    }

    private static String required(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isTextual() || n.asText().isBlank()) {
            throw new IllegalArgumentException("missing key '" + key + "'");
        }
        return n.asText();
    }

    /** The recipe as JSON, defaults resolved, for provenance. */
    public ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("model", model.toString());
        o.put("output", output.toString());
        o.put("replace", replace);
        o.put("seed", seed);
        o.put("device", device);
        o.set("calibration", Params.toJson(calibration));
        var arr = o.putArray("stages");
        for (StageEntry s : stages) {
            arr.addObject().set(s.name(), s.params());
        }
        if (eval != null) {
            o.set("eval", Params.toJson(eval));
        }
        return o;
    }
}
