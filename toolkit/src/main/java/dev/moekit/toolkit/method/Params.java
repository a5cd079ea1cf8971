package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Binds recipe parameters (a JSON/YAML object, snake_case keys) to an immutable parameter record (camelCase components):
 * unknown keys are errors that list the
 * known ones, enums match case-insensitively, missing keys take the record's defaults (applied in its compact
 * constructor), and validation errors from the constructor come back as one-line messages naming the stage.
 */
public final class Params {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
            .build();

    private Params() {}

    public static <T> T bind(String stage, JsonNode params, Class<T> type) {
        JsonNode p = params == null || params.isNull() ? MAPPER.createObjectNode() : params;
        if (!p.isObject()) {
            throw new IllegalArgumentException(where(stage) + "parameters must be a mapping, got " + p.getNodeType());
        }
        try {
            // Keys are renamed here rather than with a Jackson naming strategy: with a strategy, Jackson builds records
            // through their canonical constructor with nulls and then sets the fields, skipping validation.
            return MAPPER.treeToValue(toCamel(stage, p), type);
        } catch (UnrecognizedPropertyException e) {
            java.util.List<String> known = e.getKnownPropertyIds().stream().map(o -> toSnake(o.toString())).sorted().toList();
            String key = toSnake(e.getPropertyName());
            throw new IllegalArgumentException(where(stage) + "unknown key '" + key + "'" + Suggest.didYouMean(key, known)
                    + " (known: " + String.join(", ", known) + ")");
        } catch (InvalidFormatException e) {
            String key = e.getPath().isEmpty() ? "?" : toSnake(e.getPath().getLast().getFieldName());
            String allowed = e.getTargetType().isEnum()
                    ? " (allowed: " + Arrays.stream(e.getTargetType().getEnumConstants()).map(o -> o.toString().toLowerCase()).collect(Collectors.joining(", ")) + ")"
                    : "";
            throw new IllegalArgumentException(where(stage) + "bad value " + e.getValue() + " for '" + key + "'" + allowed);
        } catch (ValueInstantiationException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException(where(stage) + "" + c.getMessage());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(where(stage) + "" + e.getOriginalMessage());
        }
    }

    /** The prefix of messages: {@code stage 'x': } for a bare name, else the description as given. */
    private static String where(String what) {
        return what.contains(" ") || what.contains("'") ? what + ": " : "stage '" + what + "': ";
    }

    /** The record back as JSON with snake_case keys, for provenance (defaults resolved). */
    public static ObjectNode toJson(Object params) {
        return (ObjectNode) rename(MAPPER.valueToTree(params), Params::toSnake);
    }

    /** Recipe keys are snake_case; camelCase spellings are refused so that one key has one spelling. */
    private static JsonNode toCamel(String stage, JsonNode n) {
        return rename(n, k -> {
            if (!k.equals(k.toLowerCase(java.util.Locale.ROOT))) {
                throw new IllegalArgumentException(where(stage) + "key '" + k + "' must be snake_case ('" + toSnake(k) + "')");
            }
            return toCamel(k);
        });
    }

    private static JsonNode rename(JsonNode n, java.util.function.UnaryOperator<String> f) {
        if (n.isObject()) {
            ObjectNode o = MAPPER.createObjectNode();
            n.fields().forEachRemaining(e -> o.set(f.apply(e.getKey()), rename(e.getValue(), f)));
            return o;
        }
        if (n.isArray()) {
            var a = MAPPER.createArrayNode();
            n.forEach(x -> a.add(rename(x, f)));
            return a;
        }
        return n;
    }

    static String toCamel(String snake) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }

    static String toSnake(String camel) {
        StringBuilder b = new StringBuilder();
        for (char c : camel.toCharArray()) {
            if (Character.isUpperCase(c)) {
                b.append('_').append(Character.toLowerCase(c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
