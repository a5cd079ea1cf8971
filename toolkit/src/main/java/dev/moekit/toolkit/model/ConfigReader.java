package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointException;
import java.util.List;

/**
 * Reads a family's logical config keys from {@code config.json}: tries the family's synonyms in order (dotted keys
 * such as {@code rope_parameters.rope_theta} descend into objects; JSON {@code null} counts as absent), then the
 * family default; a key with neither is a {@link CheckpointException} naming the file, the key and its synonyms.
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

    private int toInt(JsonNode v, String logical) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be an integer, is " + v);
        }
        return v.asInt();
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
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be a number, is " + v);
        }
        return v.asDouble();
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
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be true or false, is " + v);
        }
        return v.asBoolean();
    }

    String text(String logical) {
        if (!knows(logical)) {
            return null;
        }
        JsonNode v = value(logical);
        return v == null ? null : v.asText();
    }

    /** A per-layer integer: a scalar for every layer, or a list of {@code layers} values (STUN-style output). */
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
            throw new CheckpointException(where + ": key '" + keyOf(logical) + "' should be a list, is " + v);
        }
        List<Integer> out = new java.util.ArrayList<>();
        v.forEach(x -> out.add(toInt(x, logical)));
        return out;
    }

    String where() {
        return where;
    }
}
