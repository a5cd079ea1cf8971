package dev.moekit.prune.sparse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.Params;

/**
 * A sparsifier with its bound, validated parameters.
 *
 * @param sparsifier the registered method
 * @param params     its parameter record
 */
public record BoundSparsifier<P extends Record>(Sparsifier<P> sparsifier, P params) {
    public BoundSparsifier {
        if (!sparsifier.parameters().isInstance(params)) {
            throw new IllegalArgumentException("sparsifier '" + sparsifier.name() + "' takes " + sparsifier.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
    }

    /** The registered sparsifier {@code name} with {@code params} (may be null: its defaults) bound. */
    public static BoundSparsifier<?> of(String name, JsonNode params) {
        return bind(Methods.standard().kind(Sparsifier.KIND).get(name), params);
    }

    /** {@code sparsifier} with a parameter record of unknown static type (checked). */
    public static <P extends Record> BoundSparsifier<P> of(Sparsifier<P> sparsifier, Record params) {
        return new BoundSparsifier<>(sparsifier, sparsifier.parameters().cast(params));
    }

    private static <P extends Record> BoundSparsifier<P> bind(Sparsifier<P> s, JsonNode params) {
        return new BoundSparsifier<>(s, s.bind(params));
    }

    public String name() {
        return sparsifier.name();
    }

    public boolean supportsNm() {
        return sparsifier.supportsNm();
    }

    public Sparsifier.Targets targets(double sparsity, SparsifyInput input) {
        return sparsifier.targets(params, sparsity, input);
    }

    /** The parameters with defaults resolved, snake_case keys. */
    public ObjectNode paramsJson() {
        return Params.toJson(params);
    }
}
