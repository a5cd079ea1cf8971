package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.method.Params;

/**
 * A weight quantizer with its bound, validated parameters, as {@link QuantOptions} holds it.
 *
 * @param quantizer the registered method
 * @param params    its parameter record
 */
public record BoundQuantizer<P extends Record>(WeightQuantizer<P> quantizer, P params) {
    public BoundQuantizer {
        if (!quantizer.parameters().isInstance(params)) {
            throw new IllegalArgumentException("weight-quantizer '" + quantizer.name() + "' takes " + quantizer.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
    }

    /** The registered quantizer {@code name} with its default parameters. */
    public static BoundQuantizer<?> of(String name) {
        return of(name, (JsonNode) null);
    }

    /** The registered quantizer {@code name} with {@code params} (recipe keys; null: defaults) bound. */
    public static BoundQuantizer<?> of(String name, JsonNode params) {
        return bind(WeightQuantizer.named(name), params);
    }

    /** The registered quantizer {@code name} with a parameter record (checked against its type). */
    public static BoundQuantizer<?> of(String name, Record params) {
        return of(WeightQuantizer.named(name), params);
    }

    /** {@code quantizer} with a parameter record of unknown static type (checked). */
    public static <P extends Record> BoundQuantizer<P> of(WeightQuantizer<P> quantizer, Record params) {
        if (!quantizer.parameters().isInstance(params)) {
            throw new IllegalArgumentException("weight-quantizer '" + quantizer.name() + "' takes " + quantizer.parameters().getSimpleName()
                    + ", got " + (params == null ? "null" : params.getClass().getSimpleName()));
        }
        return new BoundQuantizer<>(quantizer, quantizer.parameters().cast(params));
    }

    private static <P extends Record> BoundQuantizer<P> bind(WeightQuantizer<P> q, JsonNode params) {
        return new BoundQuantizer<>(q, q.bind(params));
    }

    public String name() {
        return quantizer.name();
    }

    public boolean needsCalibration() {
        return quantizer.needsCalibration(params);
    }

    public boolean activationOrder() {
        return quantizer.activationOrder(params);
    }

    public boolean calibratesAllExperts() {
        return quantizer.calibratesAllExperts(params);
    }

    public long minCalibrationRows() {
        return quantizer.minCalibrationRows(params);
    }

    /** Whether the method runs (and wants its Hessians) on the runtime device {@code runtime}. */
    public boolean runsOnDevice(ai.djl.Device runtime) {
        return quantizer.runsOnDevice(params, runtime);
    }

    public void check(QuantScheme scheme) {
        quantizer.check(params, scheme);
    }

    public WeightQuantizer.Result quantize(WeightQuantizer.Input input) {
        return quantizer.quantize(params, input);
    }

    public java.util.List<WeightQuantizer.Result> quantizeAll(java.util.List<WeightQuantizer.Input> inputs) {
        return quantizer.quantizeAll(params, inputs);
    }

    /** The parameters with defaults resolved, snake_case keys. */
    public ObjectNode paramsJson() {
        return Params.toJson(params);
    }
}
