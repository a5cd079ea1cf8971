package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.method.Params;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * A bit allocator with its bound, validated parameters, as {@link QuantOptions} holds it.
 *
 * @param allocator the registered method
 * @param params    its parameter record
 */
public record BoundAllocator<P extends Record>(BitAllocator<P> allocator, P params) {
    public BoundAllocator {
        if (!allocator.parameters().isInstance(params)) {
            throw new IllegalArgumentException("bit-allocator '" + allocator.name() + "' takes " + allocator.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
    }

    /** The registered allocator {@code name} with its default parameters. */
    public static BoundAllocator<?> of(String name) {
        return of(name, (JsonNode) null);
    }

    /** The registered allocator {@code name} with {@code params} (recipe keys; null: defaults) bound. */
    public static BoundAllocator<?> of(String name, JsonNode params) {
        return bind(BitAllocator.named(name), params);
    }

    /** The registered allocator {@code name} with a parameter record (checked against its type). */
    public static BoundAllocator<?> of(String name, Record params) {
        return of(BitAllocator.named(name), params);
    }

    /** {@code allocator} with a parameter record of unknown static type (checked). */
    public static <P extends Record> BoundAllocator<P> of(BitAllocator<P> allocator, Record params) {
        if (!allocator.parameters().isInstance(params)) {
            throw new IllegalArgumentException("bit-allocator '" + allocator.name() + "' takes " + allocator.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
        return new BoundAllocator<>(allocator, allocator.parameters().cast(params));
    }

    private static <P extends Record> BoundAllocator<P> bind(BitAllocator<P> a, JsonNode params) {
        return new BoundAllocator<>(a, a.bind(params));
    }

    public String name() {
        return allocator.name();
    }

    public boolean needsCalibration() {
        return allocator.needsCalibration(params);
    }

    /** The sensitivity proxy to measure before allocating, if any ({@link BitAllocator#sensitivityProxy}). */
    public java.util.Optional<String> sensitivityProxy() {
        return allocator.sensitivityProxy(params);
    }

    public boolean readsWeights() {
        return allocator.readsWeights(params);
    }

    /** Whether the allocation is known from metadata alone (no weights, no routing counts). */
    public boolean dataFree() {
        return !readsWeights() && !needsCalibration();
    }

    public List<Integer> widths(QuantScheme scheme) {
        return allocator.widths(params, scheme);
    }

    /** {@link BitAllocator#candidates}. */
    public List<QuantScheme> candidates(QuantScheme scheme) {
        return allocator.candidates(params, scheme);
    }

    public OptionalDouble averageBitsLimit() {
        return allocator.averageBitsLimit(params);
    }

    public Map<LinearModule, QuantScheme> allocate(BitAllocator.Input input) {
        return allocator.allocate(params, input);
    }

    /** The parameters with defaults resolved, snake_case keys. */
    public ObjectNode paramsJson() {
        return Params.toJson(params);
    }
}
