package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * One recipe key of a parameter record, for listings: its snake_case name, type, default (bound from an empty
 * mapping; "required" when the record cannot be built without it) and description ({@link Doc}).
 *
 * @param key         snake_case recipe key
 * @param type        a readable type: int, number, bool, text, list of ..., one of (a, b, c)
 * @param defaultValue the default as JSON, or null when there is none (required, or one of several alternatives)
 * @param doc         description, or ""
 */
public record ParamInfo(String key, String type, JsonNode defaultValue, String doc) {
    /** The keys of {@code record}, in declaration order. */
    public static List<ParamInfo> of(Class<? extends Record> record) {
        ObjectNode defaults = null;
        try {
            defaults = Params.toJson(Params.bind("defaults", null, record));
        } catch (IllegalArgumentException e) {
            // some keys are required or mutually exclusive: no record without them, so no defaults to show
        }
        List<ParamInfo> out = new ArrayList<>();
        for (RecordComponent c : record.getRecordComponents()) {
            String key = Params.toSnake(c.getName());
            Doc d = c.getAnnotation(Doc.class);
            JsonNode def = defaults == null ? null : defaults.get(key);
            out.add(new ParamInfo(key, typeName(c.getGenericType()), def == null || def.isNull() ? null : def, d == null ? "" : d.value()));
        }
        return out;
    }

    private static String typeName(Type t) {
        if (t instanceof ParameterizedType p && p.getRawType() == List.class) {
            return "list of " + typeName(p.getActualTypeArguments()[0]);
        }
        if (t instanceof Class<?> c) {
            if (c.isEnum()) {
                return "one of (" + Arrays.stream(c.getEnumConstants()).map(o -> o.toString().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", ")) + ")";
            }
            if (c == Integer.class || c == int.class || c == Long.class || c == long.class) {
                return "int";
            }
            if (c == Double.class || c == double.class || c == Float.class || c == float.class) {
                return "number";
            }
            if (c == Boolean.class || c == boolean.class) {
                return "bool";
            }
            if (c == String.class) {
                return "text";
            }
            if (c.isRecord()) {
                return "mapping";
            }
            return c.getSimpleName();
        }
        return t.getTypeName();
    }
}
