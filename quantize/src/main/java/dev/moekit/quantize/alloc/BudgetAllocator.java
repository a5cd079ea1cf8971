package dev.moekit.quantize.alloc;

import dev.moekit.quantize.BitAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.Sensitivity;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * Bit allocator {@code budget}: reach an average of {@code average_bits} stored bits per quantized weight (scales,
 * zero points and g_idx included, rule-fixed modules counted) at the least estimated output error, by the greedy
 * knapsack of {@link BudgetSolver}. The error of a module at b bits is its measured {@link Sensitivity}
 * ({@code proxy}: {@code imatrix} {@code sum_j E[x_j^2] sum_i dW_ij^2}, {@code hessian} {@code E||dW x||^2} with
 * RTN's dW, {@code gptq} the same with GPTQ's dW; {@code output}, the default ({@code auto}), the measured relative change
 * of the decoder layer's output when only that unit is quantized by the run's method, RTN or GPTQ), routed experts weighted by {@code (tokens routed / tokens) * E[gate^2]}; the caller
 * measures it with {@link dev.moekit.quantize.SensitivityProbe} and passes it in {@link Input#sensitivity()}.
 * {@code proxy: weight} is the old calibration-free proxy {@code ||W - RTN_b(W)||_F^2} (identity input covariance),
 * weighted per routed expert by its routed-token share relative to the layer's mean when routing counts are given;
 * it ranks modules in the wrong order on the reference models (docs/results/quantization.md) and is kept only as an
 * option. With uniform expert bits the routed experts of a layer are one allocation unit.
 *
 * <p>The candidates are the default scheme at each of {@code candidate_bits}, or, with {@code candidate_schemes},
 * whole schemes (e.g. {@code int2/g64/asym}, {@code int3/g128/sym}): then the solver also picks each unit's group size
 * and symmetry, paying their scale and zero-point bits, as llama.cpp's k-quant mixtures do by tensor type.
 */
public final class BudgetAllocator implements BitAllocator<BudgetAllocator.Parameters> {
    /**
     * @param averageBits   target average stored bits per quantized weight, e.g. 3.0 or 2.5
     * @param candidateBits    bit widths the solver may use (at the default scheme's group size and symmetry)
     * @param proxy            the error proxy
     * @param candidateSchemes whole schemes the solver may use instead, as {@link QuantScheme#parse} reads them
     */
    public record Parameters(@Doc("target average stored bits per quantized weight (scales, zero points, g_idx included), e.g. 3.0") Double averageBits,
                             @Doc("bit widths the solver may use, each 2 to 8") List<Integer> candidateBits,
                             @Doc("error proxy: output (default; auto = output): the measured change of the layer output when only the unit is quantized by the method; imatrix, hessian, gptq: activation-weighted weight errors; weight: ||W - Q||^2 without calibration") String proxy,
                             @Doc("whole schemes the solver may use instead of candidate_bits, e.g. [int2/g64/asym, int3/g128/sym, int4/g128/sym, int8/g128/sym]; it then picks group size and symmetry too") List<String> candidateSchemes) {
        /** The default proxy ({@code auto}). */
        public Parameters(Double averageBits, List<Integer> candidateBits) {
            this(averageBits, candidateBits, null, null);
        }

        public Parameters(Double averageBits, List<Integer> candidateBits, String proxy) {
            this(averageBits, candidateBits, proxy, null);
        }

        public Parameters {
            proxy = proxy == null ? "auto" : proxy.trim().toLowerCase(java.util.Locale.ROOT);
            if (!proxy.equals("auto")) {
                Sensitivity.Proxy.of(proxy); // fails listing the known proxies
            }
            if (averageBits == null) {
                throw new IllegalArgumentException("the budget solver needs average_bits");
            }
            if (!(averageBits > 0)) {
                throw new IllegalArgumentException("average_bits must be positive, got " + averageBits);
            }
            candidateBits = candidateBits == null ? List.of(2, 3, 4, 8) : List.copyOf(candidateBits);
            if (candidateBits.isEmpty()) {
                throw new IllegalArgumentException("candidate_bits needs at least one bit width");
            }
            for (int b : candidateBits) {
                QuantScheme.checkWidth("candidate_bits", b, false);
            }
            if (candidateSchemes != null) {
                if (candidateSchemes.isEmpty()) {
                    throw new IllegalArgumentException("candidate_schemes needs at least one scheme");
                }
                candidateSchemes = schemes(candidateSchemes).stream().map(QuantScheme::toString).toList();
            }
        }

        /** {@code candidate_schemes} parsed, sorted by bits, duplicates dropped. */
        private static List<QuantScheme> schemes(List<String> texts) {
            List<QuantScheme> out = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                QuantScheme s = QuantScheme.parse("candidate_schemes[" + i + "]", texts.get(i));
                if (!out.contains(s)) {
                    out.add(s);
                }
            }
            out.sort(java.util.Comparator.comparingInt(QuantScheme::bits));
            return out;
        }
    }

    @Override
    public String name() {
        return "budget";
    }

    @Override
    public String summary() {
        return "greedy knapsack: per-module bits reaching an average stored-bit budget at the least estimated error";
    }

    @Override
    public String reference() {
        return "";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.DEPENDS;
    }

    @Override
    public java.util.Optional<String> sensitivityProxy(Parameters p) {
        return p.proxy().equals("weight") ? java.util.Optional.empty() : java.util.Optional.of(p.proxy());
    }

    /** Every proxy but {@code weight} is measured on calibration data. */
    @Override
    public boolean needsCalibration(Parameters p) {
        return !p.proxy().equals("weight");
    }

    @Override
    public List<Integer> widths(Parameters p, QuantScheme scheme) {
        return candidates(p, scheme).stream().map(QuantScheme::bits).distinct().toList();
    }

    @Override
    public List<QuantScheme> candidates(Parameters p, QuantScheme scheme) {
        return p.candidateSchemes() != null ? Parameters.schemes(p.candidateSchemes())
                : p.candidateBits().stream().sorted().distinct().map(scheme::withBits).toList();
    }

    @Override
    public OptionalDouble averageBitsLimit(Parameters p) {
        return OptionalDouble.of(p.averageBits());
    }

    @Override
    public boolean readsWeights(Parameters p) {
        return true;
    }

    @Override
    public Map<LinearModule, QuantScheme> allocate(Parameters b, Input in) {
        List<QuantScheme> cands = candidates(b, in.scheme());
        long params = in.free().stream().mapToLong(LinearModule::params).sum() + in.fixed().keySet().stream().mapToLong(LinearModule::params).sum();
        long fixedBits = in.fixed().entrySet().stream().mapToLong(e -> in.storedBits().applyAsLong(e.getKey(), e.getValue())).sum();
        long budget = (long) Math.floor(b.averageBits() * params) - fixedBits;
        List<List<LinearModule>> units = units(in);
        List<BudgetSolver.Unit> su = b.proxy().equals("weight") ? weightProxy(units, cands, in) : measured(b, units, cands, in);
        int[] choice = BudgetSolver.solve(su, budget);
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (int u = 0; u < units.size(); u++) {
            QuantScheme s = cands.get(choice[u]);
            units.get(u).forEach(m -> out.put(m, s));
        }
        return out;
    }

    /** Units scored by the measured sensitivity. */
    private static List<BudgetSolver.Unit> measured(Parameters b, List<List<LinearModule>> units, List<QuantScheme> cands, Input in) {
        Sensitivity sens = in.sensitivity().orElseThrow(() -> new IllegalArgumentException("the budget solver's proxy '" + b.proxy()
                + "' is measured on calibration data, and none was given (give calibration, or proxy: weight for the calibration-free proxy)"));
        if (!b.proxy().equals("auto") && !b.proxy().equals(sens.proxy().key())) {
            throw new IllegalArgumentException("the budget solver asks for proxy '" + b.proxy() + "' but the sensitivity was measured with '"
                    + sens.proxy().key() + "'");
        }
        List<BudgetSolver.Unit> su = new ArrayList<>();
        for (List<LinearModule> unit : units) {
            double[] err = new double[cands.size()];
            long[] bits = new long[cands.size()];
            for (LinearModule m : unit) {
                for (int c = 0; c < cands.size(); c++) {
                    err[c] += sens.error(m.module(), cands.get(c));
                    bits[c] += in.storedBits().applyAsLong(m, cands.get(c));
                }
            }
            su.add(new BudgetSolver.Unit(err, bits));
        }
        return su;
    }

    /** Units scored by {@code ||W - RTN_b(W)||^2}, routed experts weighted by their relative usage when known. */
    private static List<BudgetSolver.Unit> weightProxy(List<List<LinearModule>> units, List<QuantScheme> cands, Input in) {
        List<BudgetSolver.Unit> su = new ArrayList<>();
        for (List<LinearModule> unit : units) {
            double[] err = new double[cands.size()];
            long[] bits = new long[cands.size()];
            for (LinearModule m : unit) {
                float[] w = in.weights().apply(m);
                double weight = m.role().kind() == Role.Kind.ROUTED_EXPERT && in.usage().isPresent() ? in.usage().get().relative(m.layer(), m.expert()) : 1.0;
                for (int c = 0; c < cands.size(); c++) {
                    QuantScheme s = cands.get(c);
                    err[c] += weight * squaredError(w, Rtn.quantize(w, m.rows(), m.cols(), s, DType.F32).dequantize());
                    bits[c] += in.storedBits().applyAsLong(m, s);
                }
            }
            su.add(new BudgetSolver.Unit(err, bits));
        }
        return su;
    }

    /** Allocation units: each module alone, except routed experts of a layer together when bits must be uniform. */
    private static List<List<LinearModule>> units(Input in) {
        List<List<LinearModule>> units = new ArrayList<>();
        Map<Integer, List<LinearModule>> experts = new LinkedHashMap<>();
        for (LinearModule m : in.free()) {
            if (in.uniformExpertBits() && m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                experts.computeIfAbsent(m.layer(), k -> new ArrayList<>()).add(m);
            } else {
                units.add(List.of(m));
            }
        }
        units.addAll(experts.values());
        return units;
    }

    private static double squaredError(float[] w, float[] q) {
        double e = 0;
        for (int i = 0; i < w.length; i++) {
            double d = w[i] - q[i];
            e += d * d;
        }
        return e;
    }
}
