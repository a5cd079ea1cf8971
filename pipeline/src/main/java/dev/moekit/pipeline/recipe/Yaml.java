package dev.moekit.pipeline.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.representer.Representer;

/**
 * Reads recipe YAML (JSON is YAML) into a JSON tree, strictly and within bounds: duplicate keys are errors, anchors
 * and aliases are resolved (at most {@value #MAX_ALIASES} per document, no recursion), nesting is limited to
 * {@value #MAX_DEPTH}, the document to {@value #MAX_CODE_POINTS} code points, strings to {@value #MAX_STRING}
 * characters; keys must be strings and values plain scalars, lists or mappings (no timestamps, binary or tags).
 */
public final class Yaml {
    public static final int MAX_CODE_POINTS = 1 << 20;
    public static final int MAX_ALIASES = 50;
    public static final int MAX_DEPTH = 32;
    public static final int MAX_STRING = 4096;

    private Yaml() {}

    /** Parses {@code text}; errors are {@link IllegalArgumentException}s with line and column. */
    public static JsonNode parse(String text) {
        LoaderOptions o = new LoaderOptions();
        o.setAllowDuplicateKeys(false);
        o.setMaxAliasesForCollections(MAX_ALIASES);
        o.setAllowRecursiveKeys(false);
        o.setNestingDepthLimit(MAX_DEPTH);
        o.setCodePointLimit(MAX_CODE_POINTS);
        o.setProcessComments(false);
        org.yaml.snakeyaml.Yaml y = new org.yaml.snakeyaml.Yaml(new SafeConstructor(o), new Representer(new DumperOptions()), new DumperOptions(), o);
        Object doc;
        try {
            doc = y.load(text);
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String where = m == null ? "" : "line " + (m.getLine() + 1) + ", column " + (m.getColumn() + 1) + ": ";
            String what = (e.getContext() == null ? "" : e.getContext() + " ") + (e.getProblem() == null ? "" : e.getProblem());
            throw new IllegalArgumentException("not valid YAML: " + where + oneLine(what.isBlank() ? e.getMessage() : what));
        } catch (YAMLException e) {
            throw new IllegalArgumentException("not valid YAML: " + oneLine(e.getMessage()));
        }
        return toJson(doc, "", 0);
    }

    private static String oneLine(String s) {
        String t = s == null ? "" : s.replaceAll("\\s+", " ").trim();
        return t.length() > 300 ? t.substring(0, 300) + "..." : t;
    }

    private static JsonNode toJson(Object v, String path, int depth) {
        JsonNodeFactory f = Json.STRICT.getNodeFactory();
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("'" + path + "' is nested deeper than " + MAX_DEPTH + " levels");
        }
        return switch (v) {
            case null -> f.nullNode();
            case String s -> {
                if (s.length() > MAX_STRING) {
                    throw new IllegalArgumentException("value of '" + path + "' is " + s.length() + " characters long (at most " + MAX_STRING + ")");
                }
                yield f.textNode(s);
            }
            case Boolean b -> f.booleanNode(b);
            case Integer i -> f.numberNode(i);
            case Long l -> f.numberNode(l);
            case BigInteger b -> f.numberNode(b);
            case Double d -> {
                if (!Double.isFinite(d)) {
                    throw new IllegalArgumentException("value of '" + path + "' is not a finite number");
                }
                yield f.numberNode(d);
            }
            case Map<?, ?> m -> {
                ObjectNode o = f.objectNode();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String k)) {
                        throw new IllegalArgumentException("key " + e.getKey() + " under '" + path + "' is not text");
                    }
                    o.set(k, toJson(e.getValue(), path.isEmpty() ? k : path + "." + k, depth + 1));
                }
                yield o;
            }
            case List<?> l -> {
                ArrayNode a = f.arrayNode();
                for (int i = 0; i < l.size(); i++) {
                    a.add(toJson(l.get(i), path + "[" + i + "]", depth + 1));
                }
                yield a;
            }
            default -> throw new IllegalArgumentException("value of '" + path + "' is a " + v.getClass().getSimpleName()
                    + " (recipes hold text, numbers, booleans, lists and mappings; quote it to make it text)");
        };
    }
}
