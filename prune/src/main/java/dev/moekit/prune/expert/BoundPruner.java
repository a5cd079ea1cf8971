package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.Params;

/**
 * An expert pruner with its bound, validated parameters.
 *
 * @param pruner the registered method
 * @param params its parameter record
 */
public record BoundPruner<P extends Record>(ExpertPruner<P> pruner, P params) {
    public BoundPruner {
        if (!pruner.parameters().isInstance(params)) {
            throw new IllegalArgumentException("expert-pruner '" + pruner.name() + "' takes " + pruner.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
    }

    /** The registered pruner {@code name} with {@code params} (may be null: its defaults) bound. */
    public static BoundPruner<?> of(String name, JsonNode params) {
        return bind(Methods.standard().kind(ExpertPruner.KIND).get(name), params);
    }

    /** {@code pruner} with its defaults. */
    public static <P extends Record> BoundPruner<P> defaults(ExpertPruner<P> pruner) {
        return new BoundPruner<>(pruner, pruner.defaults());
    }

    /** {@code pruner} with a parameter record of unknown static type (checked). */
    public static <P extends Record> BoundPruner<P> of(ExpertPruner<P> pruner, Record params) {
        return new BoundPruner<>(pruner, pruner.parameters().cast(params));
    }

    private static <P extends Record> BoundPruner<P> bind(ExpertPruner<P> pruner, JsonNode params) {
        return new BoundPruner<>(pruner, pruner.bind(params));
    }

    public String name() {
        return pruner.name();
    }

    public boolean needsCalibration() {
        return pruner.needsCalibration(params);
    }

    public int blockSamples() {
        return pruner.blockSamples(params);
    }

    public ExpertPruner.Selected select(Selection s) {
        return pruner.select(params, s);
    }

    /** The parameters with defaults resolved, snake_case keys. */
    public ObjectNode paramsJson() {
        return Params.toJson(params);
    }
}
