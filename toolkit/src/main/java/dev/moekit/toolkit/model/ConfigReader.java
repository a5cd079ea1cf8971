package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.Text;
import java.util.List;

/**
 * Reads a family's logical config keys from {@code config.json}: tries the family's synonyms in order (dotted keys
 * such as {@code rope_parameters.rope_theta} descend into objects; JSON {@code null} counts as absent), then the
 * family default; a key with neither is a {@link CheckpointException} naming the file, the key and its synonyms.
 * Every accessor checks the JSON type (an integer is an integral JSON number that fits an int, never a fraction, a
 * string or a boolean) and the range methods the range, naming the key and the value (escaped and cut, as read).
 */
final class ConfigReader {
    private final Family family;
    private final ObjectNode config;
    private final String where;

    ConfigReader(Family family, ObjectNode config, String where) {
        this.family = family;
        this.config = config;
        this.where = where;
    }

    /** Whether the family knows the logical key at all. */
    boolean knows(String logical) {
        return family.configKeys().containsKey(logical);
    }

    /** The config key that supplied {@code logical}, or its first synonym when none did (for messages). */
    String keyOf(String logical) {
        List<String> keys = family.configKeys().getOrDefault(logical, List.of());
        for (String k : keys) {
            if (lookup(k) != null) {
                return k;
            }
        }
        return keys.isEmpty() ? logical : keys.getFirst();
    }

    /** The value, the default, or null when the default is JSON null; throws when required and absent. */
    JsonNode value(String logical) {
        List<String> keys = family.configKeys().get(logical);
        if (keys == null) {
            throw new IllegalStateException("family " + family.name() + " has no config key '" + logical + "'");
        }
        for (String k : keys) {
            JsonNode v = lookup(k);
            if (v != null) {
                return v;
            }
        }
        if (family.defaults().containsKey(logical)) {
            JsonNode d = family.defaults().get(logical);
            return d == null || d.isNull() ? null : d;
        }
        throw new CheckpointException(where + ": missing required key '" + (keys.isEmpty() ? logical : keys.getFirst()) + "'"
                + (keys.size() > 1 ? " (or its synonyms " + String.join(", ", keys.subList(1, keys.size())) + ")" : ""));
    }

    private JsonNode lookup(String dotted) {
        JsonNode n = config;
        for (String part : dotted.split("\\.")) {
            n = n == null || !n.isObject() ? null : n.get(part);
        }
        return n == null || n.isNull() ? null : n;
    }

    int integer(String logical) {
        JsonNode v = value(logical);
        if (v == null) {
            throw new CheckpointException(where + ": missing required key '" + keyOf(logical) + "'");
        }
        return toInt(v, logical);
    }

    int integer(String logical, int fallback) {
        if (!knows(logical)) {
            return fallback;
        }
        JsonNode v = value(logical);
        return v == null ? fallback : toInt(v, logical);
    }

    /** A required integer of at least {@code min}. */
    int integer(String logical, String range, int min) {
        return atLeast(logical, integer(logical), min, range);
    }

    /** An optional integer of at least {@code min} ({@code fallback}, unchecked, when absent). */
    int integer(String logical, int fallback, String range, int min) {
        if (!knows(logical) || value(logical) == null) {
            return fallback;
        }
        return atLeast(logical, integer(logical, fallback), min, range);
    }

    private int atLeast(String logical, int v, int min, String range) {
        if (v < min) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' must be " + range + ", is " + v);
        }
        return v;
    }

    private int toInt(JsonNode v, String logical) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be an integer"
                    + (v.isIntegralNumber() ? " that fits 32 bits" : "") + ", is " + show(v));
        }
        return v.asInt();
    }

    /** A value as read, for messages: JSON text, control characters escaped, cut when long. */
    static String show(JsonNode v) {
        return Text.clip(v.toString());
    }

    double number(String logical, double fallback) {
        if (!knows(logical)) {
            return fallback;
        }
        JsonNode v = value(logical);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be a number, is " + show(v));
        }
        return v.asDouble();
    }

    /** An optional number that must be finite and greater than zero. */
    double positiveNumber(String logical, double fallback) {
        double d = number(logical, fallback);
        if (!(d > 0) || !Double.isFinite(d)) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' must be a finite number greater than 0, is "
                    + (knows(logical) && value(logical) != null ? show(value(logical)) : Double.toString(d)));
        }
        return d;
    }

    boolean bool(String logical, boolean fallback) {
        if (!knows(logical)) {
            return fallback;
        }
        JsonNode v = value(logical);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be true or false, is " + show(v));
        }
        return v.asBoolean();
    }

    /** An optional string; null when absent. */
    String text(String logical) {
        if (!knows(logical)) {
            return null;
        }
        JsonNode v = value(logical);
        if (v != null && !v.isTextual()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be a string, is " + show(v));
        }
        return v == null ? null : v.asText();
    }

    /**
     * A per-layer integer: a scalar for every layer, or a list of {@code layers} values (STUN-style output); each at
     * least {@code min}. {@code layers} must already be bounded by the tensors (the array has that length).
     */
    int[] perLayer(String logical, int layers, String range, int min) {
        int[] out = perLayer(logical, layers);
        for (int l = 0; l < out.length; l++) {
            if (out[l] < min) {
                throw new CheckpointException(where + ": key '" + keyOf(logical) + "' must be " + range + ", is " + out[l]
                        + (value(logical).isArray() ? " for layer " + l : ""));
            }
        }
        return out;
    }

    int[] perLayer(String logical, int layers) {
        JsonNode v = value(logical);
        if (v == null) {
            throw new CheckpointException(where + ": missing required key '" + keyOf(logical) + "'");
        }
        int[] out = new int[layers];
        if (v.isArray()) {
            if (v.size() != layers) {
                throw new CheckpointException(where + ": key '" + keyOf(logical) + "' lists " + v.size() + " values for "
                        + layers + " layers");
            }
            for (int i = 0; i < layers; i++) {
                out[i] = toInt(v.get(i), logical);
            }
        } else {
            java.util.Arrays.fill(out, toInt(v, logical));
        }
        return out;
    }

    /** A list of integers (e.g. {@code mlp_only_layers}); empty when absent. */
    List<Integer> intList(String logical) {
        if (!knows(logical)) {
            return List.of();
        }
        JsonNode v = value(logical);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be a list, is " + show(v));
        }
        List<Integer> out = new java.util.ArrayList<>();
        v.forEach(x -> out.add(toInt(x, logical)));
        return out;
    }

    String where() {
        return where;
    }
}
