package dev.moekit.pipeline.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.Params;
import dev.moekit.toolkit.method.Suggest;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A compression recipe: which model, which stages in order, where to write, how to calibrate and evaluate.
 *
 * <pre>{@code
 * model: ../../../shared/models/mixtral-tiny     # relative paths resolve against the recipe's folder
 * output: ../../out/mixtral-tiny-stun
 * calibration: {windows: 16}
 * stages:
 *   - prune: {method: stun, experts: 0.25}
 * eval: {windows: 8}
 * }</pre>
 * Unknown keys anywhere are errors (with the closest known key); every value is type- and range-checked here or by
 * the stage that binds it, before any work.
 *
 * @param model       input checkpoint folder (absolute)
 * @param output      output folder (absolute; must not exist unless {@code replace})
 * @param replace     replace an existing output (one moekit wrote, or a checkpoint folder) once the new one is complete
 * @param seed        seed for every random choice
 * @param device      {@code cpu} or {@code gpu:N}
 * @param calibration calibration data (globs, absolute) and window settings
 * @param stages      the stages in order
 * @param eval        evaluation after the last stage, or null for none
 */
public record Recipe(Path model, Path output, boolean replace, long seed, String device, CalibrationSettings calibration,
                     List<StageEntry> stages, EvalSettings eval) {
    /** Largest recipe file read. */
    public static final long MAX_BYTES = 1 << 20;
    private static final Set<String> KEYS = new TreeSet<>(Set.of("model", "output", "replace", "seed", "device", "calibration", "stages", "eval"));

    /** Raw calibration keys, bound with defaults. */
    record CalibrationKeys(List<String> data, Integer windows, Integer window, Boolean allExperts) {
        CalibrationKeys {
            if (windows != null && (windows < 1 || windows > 1_000_000)) {
                throw new IllegalArgumentException("windows must be in 1..1000000, got " + windows);
            }
            if (window != null && (window < 2 || window > 1 << 20)) {
                throw new IllegalArgumentException("window must be in 2..1048576 tokens, got " + window);
            }
        }

        CalibrationSettings resolve(Path base) {
            return new CalibrationSettings(resolveAll(base, data), windows == null ? 16 : windows, window == null ? 256 : window,
                    allExperts != null && allExperts);
        }
    }

    public Recipe {
        stages = List.copyOf(stages);
        if (stages.isEmpty()) {
            throw new IllegalArgumentException("recipe has no stages");
        }
        device = Devices.check(device);
    }

    /** Reads and validates a recipe file (YAML or JSON); relative paths resolve against the file's folder. */
    public static Recipe read(Path file) {
        Path base = file.toAbsolutePath().normalize().getParent();
        try {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(Files.exists(file, LinkOption.NOFOLLOW_LINKS) ? "not a regular file" : "file not found");
            }
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                throw new IllegalArgumentException("recipe is " + size + " bytes; at most " + MAX_BYTES + " are read");
            }
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException("not UTF-8 text");
            }
            return parse(Yaml.parse(text), base);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read (" + e.getMessage() + ")");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Builds a recipe from a parsed tree (the Maven plugin's inline recipes); relative paths resolve against {@code base}. */
    public static Recipe parse(JsonNode root, Path base) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a recipe is a mapping with model, output and stages");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "'" + Suggest.didYouMean(k, KEYS) + " (known: " + String.join(", ", KEYS) + ")");
            }
        }
        Path model = resolve(base, text(root, "model", true));
        Path output = resolve(base, text(root, "output", true));
        CalibrationSettings cal = Params.bind("calibration settings", root.get("calibration"), CalibrationKeys.class).resolve(base);
        EvalSettings eval = null;
        if (root.has("eval") && !root.get("eval").isNull() && !(root.get("eval").isBoolean() && !root.get("eval").asBoolean())) {
            JsonNode e = root.get("eval").isBoolean() ? null : root.get("eval");
            eval = Params.bind("eval settings", e, EvalSettings.class);
            eval = eval.withData(resolveAll(base, eval.data()));
        }
        String device = root.has("device") ? text(root, "device", true) : "cpu";
        return new Recipe(model, output, bool(root, "replace"), seed(root), device, cal, stages(root.get("stages")), eval);
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
                throw new IllegalArgumentException("each stage is '<name>: {parameters}', got " + show(s));
            }
        }
        return out;
    }

    private static String text(JsonNode root, String key, boolean required) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing key '" + key + "'");
            }
            return null;
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new IllegalArgumentException("'" + key + "' must be non-empty text, got " + show(n));
        }
        return n.asText();
    }

    private static boolean bool(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw new IllegalArgumentException("'" + key + "' must be true or false, got " + show(n));
        }
        return n.asBoolean();
    }

    private static long seed(JsonNode root) {
        JsonNode n = root.get("seed");
        if (n == null || n.isNull()) {
            return 0;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw new IllegalArgumentException("'seed' must be an integer, got " + show(n));
        }
        return n.asLong();
    }

    /** A value for a message: compact JSON, control characters escaped, at most 80 characters. */
    static String show(JsonNode n) {
        String s = n.toString();
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(80).forEach(c -> b.append(Character.isISOControl(c) ? String.format("\\u%04x", c) : Character.toString(c)));
        return s.length() > 80 ? b + "..." : b.toString();
    }

    static Path resolve(Path base, String p) {
        Path path = Path.of(p);
        return (base == null || path.isAbsolute() ? path : base.resolve(path)).toAbsolutePath().normalize();
    }

    static List<String> resolveAll(Path base, List<String> globs) {
        return globs == null ? List.of() : globs.stream().map(g -> resolve(base, g).toString()).toList();
    }

    /** A copy with another output and replace flag (command-line overrides). */
    public Recipe withOutput(Path out, boolean rep) {
        return new Recipe(model, out.toAbsolutePath().normalize(), rep, seed, device, calibration, stages, eval);
    }

    /** A copy with another device. */
    public Recipe withDevice(String d) {
        return new Recipe(model, output, replace, seed, d, calibration, stages, eval);
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
