package dev.moekit.quantize.alloc;

import dev.moekit.quantize.BitAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
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
 * knapsack of {@link BudgetSolver}. The error proxy of a module at b bits is {@code ||W - RTN_b(W)||_F^2}, i.e.
 * {@code E||(W - Q) x||^2} for inputs with identity covariance, weighted per routed expert by its routed-token share
 * when routing counts are known. With uniform expert bits the routed experts of a layer are one allocation unit.
 */
public final class BudgetAllocator implements BitAllocator<BudgetAllocator.Parameters> {
    /**
     * @param averageBits   target average stored bits per quantized weight, e.g. 3.0 or 2.5
     * @param candidateBits bit widths the solver may use
     */
    public record Parameters(@Doc("target average stored bits per quantized weight (scales, zero points, g_idx included), e.g. 3.0") Double averageBits,
                             @Doc("bit widths the solver may use, each 2, 3, 4 or 8") List<Integer> candidateBits) {
        public Parameters {
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
                if (b != 2 && b != 3 && b != 4 && b != 8) {
                    throw new IllegalArgumentException("candidate_bits: " + b + " is not a supported width (allowed: 2, 3, 4, 8)");
                }
            }
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
        return Calibration.NONE; // routing counts, when a caller has them, only weight the error proxy
    }

    @Override
    public List<Integer> widths(Parameters p, QuantScheme scheme) {
        return p.candidateBits().stream().sorted().distinct().toList();
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
        List<Integer> cands = widths(b, in.scheme());
        long params = in.free().stream().mapToLong(LinearModule::params).sum() + in.fixed().keySet().stream().mapToLong(LinearModule::params).sum();
        long fixedBits = in.fixed().entrySet().stream().mapToLong(e -> in.storedBits().applyAsLong(e.getKey(), e.getValue())).sum();
        long budget = (long) Math.floor(b.averageBits() * params) - fixedBits;
        List<List<LinearModule>> units = units(in);
        List<BudgetSolver.Unit> su = new ArrayList<>();
        for (List<LinearModule> unit : units) {
            double[] err = new double[cands.size()];
            long[] bits = new long[cands.size()];
            for (LinearModule m : unit) {
                float[] w = in.weights().apply(m);
                double weight = m.role().kind() == Role.Kind.ROUTED_EXPERT && in.usage().isPresent() ? in.usage().get().relative(m.layer(), m.expert()) : 1.0;
                for (int c = 0; c < cands.size(); c++) {
                    QuantScheme s = in.scheme().withBits(cands.get(c));
                    err[c] += weight * squaredError(w, Rtn.quantize(w, m.rows(), m.cols(), s, DType.F32).dequantize());
                    bits[c] += in.storedBits().applyAsLong(m, s);
                }
            }
            su.add(new BudgetSolver.Unit(err, bits));
        }
        int[] choice = BudgetSolver.solve(su, budget);
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (int u = 0; u < units.size(); u++) {
            QuantScheme s = in.scheme().withBits(cands.get(choice[u]));
            units.get(u).forEach(m -> out.put(m, s));
        }
        return out;
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
