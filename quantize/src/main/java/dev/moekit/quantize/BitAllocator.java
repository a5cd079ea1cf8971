package dev.moekit.quantize;

import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.function.Function;
import java.util.function.ToLongBiFunction;

/**
 * Plugin kind {@code bit-allocator}: gives every module that no {@link BitRule} fixed its scheme, one of the
 * allocator's {@link #candidates} (by default the default scheme's group size and symmetry at the allocator's
 * {@link #widths}). The planner applies the rules first and, when uniform expert bits are
 * required, checks afterwards that the routed experts of each layer share one scheme. Allocators that need neither
 * weights ({@link #readsWeights}) nor routing counts ({@link #needsCalibration}) are run on metadata alone when a
 * recipe is planned, so the planned output is exact. See {@code dev.moekit.quantize.alloc}.
 *
 * @param <P> the method's parameter record
 */
public interface BitAllocator<P extends Record> extends Method<P> {
    @SuppressWarnings({"unchecked", "rawtypes"})
    MethodKind<BitAllocator<?>> KIND = new MethodKind<>("bit-allocator", (Class) BitAllocator.class,
            "choose per-module bit widths for the modules no rule fixes (uniform, budget solver, QuantMoE-Bench heuristics)");

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    /** A scheme for every module of {@code input.free()}; the others are already fixed. */
    Map<LinearModule, QuantScheme> allocate(P params, Input input);

    /** The bit widths the allocator may choose with {@code params} around the default {@code scheme}. */
    List<Integer> widths(P params, QuantScheme scheme);

    /**
     * The schemes the allocator may choose, in increasing order of bits: by default {@code scheme} at each of
     * {@link #widths}; an allocator that also chooses group sizes or symmetry overrides this.
     */
    default List<QuantScheme> candidates(P params, QuantScheme scheme) {
        return widths(params, scheme).stream().map(scheme::withBits).toList();
    }

    /** The average stored bits per quantized weight (scales, zero points and g_idx included) it stays within, if any. */
    default OptionalDouble averageBitsLimit(P params) {
        return OptionalDouble.empty();
    }

    /**
     * The {@link Sensitivity.Proxy} key ({@code auto} allowed) the allocator wants measured on calibration data before
     * it allocates ({@link SensitivityProbe}), or empty when it needs none.
     */
    default java.util.Optional<String> sensitivityProxy(P params) {
        return java.util.Optional.empty();
    }

    /** Whether allocating reads the weights (then a plan made from metadata alone is an estimate). */
    default boolean readsWeights(P params) {
        return false;
    }

    /**
     * What an allocator sees.
     *
     * @param free              modules to allocate, in checkpoint order
     * @param fixed             modules the rules fixed, with their schemes
     * @param scheme            the default scheme
     * @param uniformExpertBits whether the routed experts of a layer must share one scheme
     * @param usage             routed tokens per expert, when calibration counted them
     * @param weights           reads a module's weight, fp32 [rows, cols] (fails when planning from metadata)
     * @param storedBits        stored bits of a module at a scheme in the output format (codes, scales, zero points,
     *                          g_idx)
     * @param sensitivity       measured error per module and width ({@link SensitivityProbe}), when calibration
     *                          measured it
     */
    record Input(List<LinearModule> free, Map<LinearModule, QuantScheme> fixed, QuantScheme scheme, boolean uniformExpertBits,
                 Optional<ExpertUsage> usage, Function<LinearModule, float[]> weights,
                 ToLongBiFunction<LinearModule, QuantScheme> storedBits, Optional<Sensitivity> sensitivity) {
        public Input {
            free = List.copyOf(free);
            fixed = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fixed));
            sensitivity = sensitivity == null ? Optional.empty() : sensitivity;
        }

        /** Without a measured sensitivity. */
        public Input(List<LinearModule> free, Map<LinearModule, QuantScheme> fixed, QuantScheme scheme, boolean uniformExpertBits,
                     Optional<ExpertUsage> usage, Function<LinearModule, float[]> weights, ToLongBiFunction<LinearModule, QuantScheme> storedBits) {
            this(free, fixed, scheme, uniformExpertBits, usage, weights, storedBits, Optional.empty());
        }
    }

    /** The registered allocator {@code name} (case and {@code -}/{@code _} ignored). */
    static BitAllocator<?> named(String name) {
        return Lookup.find(KIND, name, m -> List.of());
    }
}
