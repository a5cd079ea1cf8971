package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Decides the scheme of every selected module: {@link BitRule}s first (first match wins, {@link BitRule#KEEP} leaves
 * a module unquantized), then the {@link BitAllocator} for the rest, then the uniform-experts constraint (all routed
 * experts of a layer share one scheme) when asked for. A k-quant scheme a module's rows do not fit becomes
 * {@link QuantScheme#forCols its fallback} for that module, as llama.cpp does.
 */
final class BitPlanner {
    private final QuantOptions opts;
    private final Optional<ExpertUsage> usage;
    private final DType weightType;
    private final Function<LinearModule, float[]> weights;
    private final Optional<Sensitivity> sensitivity;

    /**
     * {@code weights} reads a module's weight (for allocators that read weights); {@code weightType} the model's;
     * {@code sensitivity} the measured errors, if any.
     */
    BitPlanner(QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity, DType weightType,
               Function<LinearModule, float[]> weights) {
        this.opts = opts;
        this.usage = usage.isPresent() ? usage : sensitivity.map(Sensitivity::usage);
        this.sensitivity = sensitivity;
        this.weightType = weightType;
        this.weights = weights;
    }

    /** Scheme per module, in the order given; modules left unquantized are absent. */
    Map<LinearModule, QuantScheme> plan(List<LinearModule> selected) {
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        List<LinearModule> free = new ArrayList<>();
        for (LinearModule m : selected) {
            Optional<BitRule> rule = opts.rules().stream().filter(r -> r.selector().matches(m.candidate())).findFirst();
            if (rule.isPresent()) {
                if (rule.get().bits() != BitRule.KEEP) {
                    out.put(m, opts.scheme().withBits(rule.get().bits()));
                }
            } else {
                free.add(m);
            }
        }
        boolean gIdx = opts.method().activationOrder();
        BitAllocator.Input in = new BitAllocator.Input(free, out, opts.scheme(), opts.uniformExpertBits(), usage, weights,
                (m, s) -> opts.format().storedBits(m, s.forCols(m.cols()), gIdx, weightType), sensitivity);
        Map<LinearModule, QuantScheme> allocated = opts.allocation().allocate(in);
        for (LinearModule m : free) {
            QuantScheme s = allocated.get(m);
            if (s == null) {
                throw new IllegalStateException("bit-allocator '" + opts.allocation().name() + "' gave no scheme to " + m.module());
            }
            out.put(m, s);
        }
        if (opts.uniformExpertBits()) {
            checkUniform(out);
        }
        Map<LinearModule, QuantScheme> ordered = new LinkedHashMap<>();
        // rows a k-quant does not fit (not a whole number of 256-weight super-blocks) take llama.cpp's fallback type
        selected.stream().filter(out::containsKey).forEach(m -> ordered.put(m, out.get(m).forCols(m.cols())));
        return ordered;
    }

    /** Routed experts of one layer must share a scheme (fused-MoE kernels). */
    private static void checkUniform(Map<LinearModule, QuantScheme> out) {
        Map<Integer, QuantScheme> perLayer = new HashMap<>();
        for (var e : out.entrySet()) {
            if (e.getKey().role().kind() != Role.Kind.ROUTED_EXPERT) {
                continue;
            }
            QuantScheme prev = perLayer.putIfAbsent(e.getKey().layer(), e.getValue());
            if (prev != null && !prev.equals(e.getValue())) {
                throw new IllegalArgumentException("layer " + e.getKey().layer() + ": routed experts got " + prev + " and " + e.getValue()
                        + " but uniform expert bits are required (fused MoE kernels); change the rules or turn uniformExpertBits off");
            }
        }
    }
}
