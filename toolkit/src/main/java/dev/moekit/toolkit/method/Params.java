package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
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
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .build();

    private Params() {}

    public static <T> T bind(String stage, JsonNode params, Class<T> type) {
        JsonNode p = params == null || params.isNull() ? MAPPER.createObjectNode() : params;
        if (!p.isObject()) {
            throw new IllegalArgumentException("stage '" + stage + "': parameters must be a mapping, got " + p.getNodeType());
        }
        try {
            return MAPPER.treeToValue(p, type);
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", "));
            throw new IllegalArgumentException("stage '" + stage + "': unknown key '" + e.getPropertyName() + "' (known: " + known + ")");
        } catch (InvalidFormatException e) {
            String key = e.getPath().isEmpty() ? "?" : e.getPath().getLast().getFieldName();
            String allowed = e.getTargetType().isEnum()
                    ? " (allowed: " + Arrays.stream(e.getTargetType().getEnumConstants()).map(o -> o.toString().toLowerCase()).collect(Collectors.joining(", ")) + ")"
                    : "";
            throw new IllegalArgumentException("stage '" + stage + "': bad value " + e.getValue() + " for '" + key + "'" + allowed);
        } catch (ValueInstantiationException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("stage '" + stage + "': " + c.getMessage());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("stage '" + stage + "': " + e.getOriginalMessage());
        }
    }

    /** The record back as JSON, for provenance (defaults resolved). */
    public static ObjectNode toJson(Object params) {
        return MAPPER.valueToTree(params);
    }
}
