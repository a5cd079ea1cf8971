package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.Text;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The known model families, read from the resources {@code families/<name>.json} that {@code families/index.json}
 * lists (an explicit list, no classpath scanning). Two families claiming the same architecture or {@code model_type}
 * is an error at load time. See {@link FamilyLoader} for the file format.
 */
public final class FamilyRegistry {
    static final String DIR = "families/";
    static final String INDEX = DIR + "index.json";

    private static final class Holder {
        static final FamilyRegistry STANDARD = load(INDEX);
    }

    private final Map<String, Family> byName;
    private final Map<String, Family> byArchitecture;
    private final Map<String, Family> byModelType;

    private FamilyRegistry(List<Family> families, String where) {
        Map<String, Family> names = new LinkedHashMap<>();
        Map<String, Family> archs = new LinkedHashMap<>();
        Map<String, Family> types = new LinkedHashMap<>();
        for (Family f : families) {
            claim(names, f.name(), f, "name", where);
            f.architectures().forEach(a -> claim(archs, a, f, "architecture", where));
            f.modelTypes().forEach(t -> claim(types, t, f, "model_type", where));
        }
        this.byName = Collections.unmodifiableMap(names);
        this.byArchitecture = Collections.unmodifiableMap(archs);
        this.byModelType = Collections.unmodifiableMap(types);
    }

    private static void claim(Map<String, Family> m, String key, Family f, String what, String where) {
        Family old = m.putIfAbsent(key, f);
        if (old != null) {
            throw new IllegalStateException(where + ": " + what + " '" + key + "' is claimed by both families " + old.name()
                    + " and " + f.name());
        }
    }

    /** The families shipped with moekit. */
    public static FamilyRegistry standard() {
        return Holder.STANDARD;
    }

    /** Loads the families that the index resource {@code indexResource} lists (relative to {@code families/}). */
    public static FamilyRegistry load(String indexResource) {
        JsonNode index = readResource(indexResource);
        JsonNode list = index.get("families");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new IllegalStateException(indexResource + ": needs a non-empty 'families' array of resource names");
        }
        List<Family> out = new ArrayList<>();
        for (JsonNode n : list) {
            String res = DIR + n.asText();
            out.add(FamilyLoader.parse((ObjectNode) requireObject(readResource(res), res), res));
        }
        return new FamilyRegistry(out, indexResource);
    }

    private static JsonNode requireObject(JsonNode n, String res) {
        if (!n.isObject()) {
            throw new IllegalStateException(res + ": not a JSON object");
        }
        return n;
    }

    private static JsonNode readResource(String res) {
        try (InputStream in = FamilyRegistry.class.getClassLoader().getResourceAsStream(res)) {
            if (in == null) {
                throw new IllegalStateException(res + ": resource not found");
            }
            return Json.STRICT.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(res + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public List<Family> families() {
        return List.copyOf(byName.values());
    }

    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    /** The family called {@code name}; {@link IllegalArgumentException} listing the known names if none. */
    public Family byName(String name) {
        Family f = byName.get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown model family '" + name + "' (known: " + String.join(", ", byName.keySet()) + ")");
        }
        return f;
    }

    /**
     * The family of a config: by {@code architectures[0]}, else by {@code model_type}. {@code where} names the config
     * file in the error, which lists the known architectures.
     */
    public Family find(ObjectNode config, String where) {
        JsonNode archs = config.get("architectures");
        if (archs != null && !archs.isNull() && (!archs.isArray() || (!archs.isEmpty() && !archs.get(0).isTextual()))) {
            throw new CheckpointException(where + ": key 'architectures' should be a list of class names, is " + Text.clip(archs.toString()));
        }
        String arch = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        if (arch != null && byArchitecture.containsKey(arch)) {
            return byArchitecture.get(arch);
        }
        JsonNode mt = config.get("model_type");
        if (mt != null && !mt.isNull() && !mt.isTextual()) {
            throw new CheckpointException(where + ": key 'model_type' should be a string, is " + Text.clip(mt.toString()));
        }
        String type = mt != null && mt.isTextual() ? mt.asText() : null;
        if (type != null && byModelType.containsKey(type)) {
            return byModelType.get(type);
        }
        throw new CheckpointException(where + ": no model family describes architecture "
                + (arch == null ? "(none given)" : Text.quote(arch)) + " / model_type "
                + (type == null ? "(none given)" : Text.quote(type)) + " (known architectures: "
                + String.join(", ", byArchitecture.keySet()) + ")");
    }
}
