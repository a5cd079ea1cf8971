package dev.moekit.prune.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.method.Suggest;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The flat keys of a stage entry that names a method ({@code prune: {method: stun, experts: 0.25, distance: mixed}}):
 * the stage's own keys go to the stage's record, the rest to the chosen method's record. An unknown key fails naming
 * it, with the closest known key and both key lists.
 */
final class MethodKeys {
    /** The stage's record component holding the method's parameters; never a recipe key. */
    static final String METHOD_PARAMS = "method_params";

    /**
     * A split entry.
     *
     * @param method the chosen method
     * @param stage  the stage's keys
     * @param params the method's keys
     */
    record Split<M extends Method<?>>(M method, ObjectNode stage, ObjectNode params) {}

    private MethodKeys() {}

    /**
     * Splits {@code raw} (may be null) for {@code stage}, whose record is {@code stageRecord}; {@code method} names the
     * method (else {@code defaultMethod}); {@code aliases} maps older spellings to the method's keys.
     */
    static <M extends Method<?>> Split<M> split(String stage, JsonNode raw, Class<? extends Record> stageRecord, MethodKind<M> kind,
                                                String defaultMethod, Map<String, String> aliases) {
        ObjectNode in = raw == null || raw.isNull() ? Json.PRETTY.createObjectNode() : raw.isObject() ? (ObjectNode) raw : null;
        if (in == null) {
            throw new IllegalArgumentException("stage '" + stage + "': parameters must be a mapping, got " + raw.getNodeType());
        }
        JsonNode name = in.get("method");
        if (name != null && !name.isNull() && !name.isTextual()) {
            throw new IllegalArgumentException("stage '" + stage + "': 'method' must be a name, got " + name);
        }
        M method;
        try {
            method = Methods.standard().kind(kind).get(name == null || name.isNull() ? defaultMethod : name.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("stage '" + stage + "': " + e.getMessage(), e);
        }
        Set<String> stageKeys = keys(stageRecord);
        stageKeys.remove(METHOD_PARAMS);
        Set<String> methodKeys = keys(method.parameters());
        for (String k : methodKeys) {
            if (stageKeys.contains(k)) {
                throw new IllegalStateException(kind.name() + " '" + method.name() + "' declares key '" + k + "', which is a key of stage "
                        + stage + "; rename it");
            }
        }
        ObjectNode s = Json.PRETTY.createObjectNode();
        ObjectNode p = Json.PRETTY.createObjectNode();
        for (Map.Entry<String, JsonNode> e : in.properties()) {
            String k = e.getKey();
            String alias = aliases.get(k);
            if (alias != null && methodKeys.contains(alias)) {
                if (in.has(alias)) {
                    throw new IllegalArgumentException("stage '" + stage + "': give '" + alias + "' or its older spelling '" + k + "', not both");
                }
                p.set(alias, e.getValue());
            } else if (stageKeys.contains(k)) {
                s.set(k, e.getValue());
            } else if (methodKeys.contains(k) || !k.equals(k.toLowerCase(Locale.ROOT))) {
                p.set(k, e.getValue()); // camelCase spellings: the method's binding names the snake_case key
            } else {
                List<String> known = new ArrayList<>(stageKeys);
                known.addAll(methodKeys);
                aliases.forEach((old, now) -> {
                    if (methodKeys.contains(now)) {
                        known.add(old);
                    }
                });
                throw new IllegalArgumentException("stage '" + stage + "': unknown key '" + k + "'" + Suggest.didYouMean(k, known)
                        + " (" + stage + " keys: " + String.join(", ", stageKeys) + "; " + method.name()
                        + (methodKeys.isEmpty() ? " takes none" : " keys: " + String.join(", ", methodKeys)) + ")");
            }
        }
        return new Split<>(method, s, p);
    }

    /** The snake_case keys of a record, in declaration order. */
    static Set<String> keys(Class<? extends Record> type) {
        Set<String> out = new LinkedHashSet<>();
        for (RecordComponent c : type.getRecordComponents()) {
            out.add(snake(c.getName()));
        }
        return out;
    }

    private static String snake(String camel) {
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
