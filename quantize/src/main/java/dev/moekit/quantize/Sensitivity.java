package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Measured sensitivity of every quantizable module to each candidate scheme (bit width, group size, symmetry): the estimated contribution of the
 * module's quantization error to the model's output error, in the units of {@code E||dW x||^2} per calibration token
 * (see {@link SensitivityProbe} for how each {@link Proxy} measures it), routed experts already weighted by their
 * usage {@code (tokens routed / tokens) * E[gate^2]}. The budget allocator sums these over an allocation unit and
 * solves its knapsack on them.
 *
 * @param proxy      the proxy the errors were measured with
 * @param schemes    candidate schemes; {@code errors} are in this order
 * @param errors     module name -> estimated error at each scheme
 * @param weights    module name -> the usage weight applied (1 for modules every token passes through)
 * @param unmeasured modules no calibration input reached (their error is the weight error times the mean input second
 *                   moment of the measured modules)
 * @param tokens     calibration tokens (real, padding excluded)
 * @param usage      routed tokens per expert, real routing
 */
public record Sensitivity(Proxy proxy, List<QuantScheme> schemes, Map<String, double[]> errors, Map<String, Double> weights,
                          Set<String> unmeasured, long tokens, ExpertUsage usage) {
    /** How a module's error at b bits is estimated. */
    public enum Proxy {
        /** {@code ||W - RTN_b(W)||_F^2}: no calibration, identity input covariance (the old proxy). */
        WEIGHT,
        /** llama.cpp's importance matrix: {@code sum_j E[x_j^2] sum_i dW_ij^2} (the diagonal of the input covariance). */
        IMATRIX,
        /** {@code tr(dW E[x x^T] dW^T) = E||dW x||^2} with the full input covariance (GPTQ's Hessian / 2), RTN's dW. */
        HESSIAN,
        /** As {@link #HESSIAN}, with dW from the options' calibrated method (GPTQ's own error). */
        GPTQ,
        /**
         * Measured: {@code E||y_l(Q) - y_l||^2}, the squared change of the decoder layer's output (the residual stream)
         * per token when only this unit is quantized (the method's dW: RTN, or GPTQ on the unit's Hessian), with real
         * routing; comparable across modules and layers because every unit's error lands in the same residual stream.
         */
        OUTPUT;

        /** The key in recipes and reports. */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses a recipe value ({@code auto} is resolved by the caller). */
        public static Proxy of(String key) {
            for (Proxy p : values()) {
                if (p.key().equalsIgnoreCase(key.trim())) {
                    return p;
                }
            }
            throw new IllegalArgumentException("proxy: '" + key + "' is not one of auto, output, imatrix, hessian, gptq, weight");
        }
    }

    public Sensitivity {
        schemes = List.copyOf(schemes);
        errors = Collections.unmodifiableMap(new LinkedHashMap<>(errors));
        weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights));
        unmeasured = Set.copyOf(unmeasured);
        for (var e : errors.entrySet()) {
            if (e.getValue().length != schemes.size()) {
                throw new IllegalArgumentException(e.getKey() + ": " + e.getValue().length + " errors for " + schemes.size() + " schemes");
            }
        }
    }

    /** The estimated error of {@code module} quantized by {@code scheme}; fails naming the module when it was not measured. */
    public double error(String module, QuantScheme scheme) {
        double[] e = errors.get(module);
        int i = schemes.indexOf(scheme);
        if (e == null || i < 0) {
            throw new IllegalArgumentException("sensitivity (" + proxy.key() + ") has no error for " + module + " at " + scheme
                    + (e == null ? " (module not measured)" : "; measured schemes " + schemes));
        }
        return e[i];
    }

    /** The estimated error of {@code module} at the one measured scheme of {@code bits} bits. */
    public double error(String module, int bits) {
        List<QuantScheme> at = schemes.stream().filter(s -> s.bits() == bits).toList();
        if (at.size() != 1) {
            throw new IllegalArgumentException("sensitivity (" + proxy.key() + ") has " + at.size() + " schemes of " + bits + " bits for "
                    + module + "; measured schemes " + schemes);
        }
        return error(module, at.get(0));
    }

    /** Summary for reports: proxy, tokens, unmeasured modules and the usage weights of routed experts. */
    public ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("proxy", proxy.key());
        o.put("tokens", tokens);
        schemes.forEach(s -> o.withArray("schemes").add(s.toString()));
        unmeasured.stream().sorted().forEach(o.putArray("unmeasured")::add);
        return o;
    }
}
