package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import java.util.List;

/**
 * Plugin kind {@code weight-quantizer}: turns one linear weight {@code W [out, in]} into integer codes on the min-max
 * grid of its {@link QuantScheme} ({@link QuantizedMatrix}). Data-free methods ignore the Hessian; methods that use it
 * ({@link #needsCalibration}) get the calibration Hessian of the module's input, and fall back to RTN (saying why in
 * {@link Result#fallback()}) where there is too little of it. Registered as {@link Method}s; see
 * {@code dev.moekit.quantize.method} for RTN and GPTQ.
 *
 * @param <P> the method's parameter record
 */
public interface WeightQuantizer<P extends Record> extends Method<P> {
    @SuppressWarnings({"unchecked", "rawtypes"})
    MethodKind<WeightQuantizer<?>> KIND = new MethodKind<>("weight-quantizer", (Class) WeightQuantizer.class,
            "turn one linear weight into integer codes on per-group grids (RTN, GPTQ)");

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    /** Quantizes one module. */
    Result quantize(P params, Input input);

    /**
     * Quantizes several modules, results in their order; a method may run them together (GPTQ on a device batches
     * modules of one shape). By default, one by one.
     */
    default List<Result> quantizeAll(P params, List<Input> inputs) {
        return inputs.stream().map(i -> quantize(params, i)).toList();
    }

    /**
     * Whether results may reorder columns into groups (activation order, a {@code g_idx}); packed formats then plan a
     * column-to-group tensor for every grouped module.
     */
    default boolean activationOrder(P params) {
        return false;
    }

    /** Whether calibration should send every token through every routed expert for its statistics (MoE models). */
    default boolean calibratesAllExperts(P params) {
        return false;
    }

    /** Calibration rows (tokens) below which a module falls back to RTN; 0 for data-free methods. */
    default long minCalibrationRows(P params) {
        return 0;
    }

    /**
     * Whether the method wants its calibration statistics (Hessians) accumulated on the runtime's device
     * {@code runtime} and runs there ({@link Input#device()}); false: host arrays.
     */
    default boolean runsOnDevice(P params, ai.djl.Device runtime) {
        return false;
    }

    /** Refuses {@code params} with {@code scheme} before anything runs (e.g. GPTQ's block size against the group size). */
    default void check(P params, QuantScheme scheme) {
    }

    /**
     * One module to quantize.
     *
     * @param module    the module
     * @param weight    its weight [rows, cols] row-major, fp32 (not modified)
     * @param scheme    bits, group size, symmetry
     * @param hessian   the calibration Hessian of the module's input, or null when none reached it
     * @param scaleType dtype the scales will be stored in (grids round scales to it first)
     * @param linalg    dense linear algebra
     * @param device    the calibration runtime's device ({@code cpu}, {@code gpu:N}), or null without a runtime
     */
    record Input(LinearModule module, float[] weight, QuantScheme scheme, Hessian hessian, DType scaleType, Linalg linalg, ai.djl.Device device) {
        /** Without a runtime device. */
        public Input(LinearModule module, float[] weight, QuantScheme scheme, Hessian hessian, DType scaleType, Linalg linalg) {
            this(module, weight, scheme, hessian, scaleType, linalg, null);
        }

        /** {@code scheme} is taken {@link QuantScheme#forCols for the module's row length} (k-quants need whole super-blocks). */
        public Input {
            scheme = scheme.forCols(module.cols());
            if (weight.length != module.params()) {
                throw new IllegalArgumentException(module.module() + ": weight has " + weight.length + " values, expected " + module.rows()
                        + "x" + module.cols());
            }
        }
    }

    /**
     * @param quantized codes, grids and g_idx
     * @param method    the method that produced them (a fallback names the method it fell back to)
     * @param fallback  why the module fell back, or null
     */
    record Result(QuantizedMatrix quantized, String method, String fallback) {}

    /** The registered quantizer {@code name} (case and {@code -}/{@code _} ignored). */
    static WeightQuantizer<?> named(String name) {
        return Lookup.find(KIND, name, m -> List.of());
    }
}
