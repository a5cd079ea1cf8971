package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decides the scheme of every selected module: {@link BitRule}s first (first match wins, {@link BitRule#KEEP} leaves
 * a module unquantized), then the {@link Allocation} for the rest, then the uniform-experts constraint (all routed
 * experts of a layer share one scheme) when asked for.
 */
final class BitPlanner {
    private final Checkpoint checkpoint;
    private final QuantOptions opts;
    private final Optional<ExpertUsage> usage;
    private final DType weightType;

    BitPlanner(Checkpoint checkpoint, QuantOptions opts, Optional<ExpertUsage> usage, DType weightType) {
        this.checkpoint = checkpoint;
        this.opts = opts;
        this.usage = usage;
        this.weightType = weightType;
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
        switch (opts.allocation()) {
            case Allocation.Uniform u -> free.forEach(m -> out.put(m, opts.scheme()));
            case Allocation.QuantMoe q -> out.putAll(heuristic(free, q));
            case Allocation.Budget b -> out.putAll(budget(free, b, out));
        }
        if (opts.uniformExpertBits()) {
            checkUniform(out);
        }
        Map<LinearModule, QuantScheme> ordered = new LinkedHashMap<>();
        selected.stream().filter(out::containsKey).forEach(m -> ordered.put(m, out.get(m)));
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

    private Map<LinearModule, QuantScheme> heuristic(List<LinearModule> free, Allocation.QuantMoe q) {
        Map<LinearModule, Double> outlier = new HashMap<>();
        if (q.outlierFraction() > 0) {
            for (LinearModule m : free) {
                if (m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                    outlier.put(m, OutlierScore.of(Weights.read(checkpoint, m), m.rows(), m.cols()));
                }
            }
        }
        List<Double> scores = outlier.values().stream().sorted(Comparator.reverseOrder()).toList();
        int topCount = (int) Math.round(q.outlierFraction() * scores.size());
        double threshold = topCount == 0 ? Double.POSITIVE_INFINITY : scores.get(topCount - 1);
        if (q.topExperts() > 0 && usage.isEmpty()) {
            throw new IllegalArgumentException("the QuantMoE most-used-experts heuristic needs expert routing counts (calibration usage)");
        }
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (LinearModule m : free) {
            Role.Kind k = m.role().kind();
            boolean high = q.attentionHigh() && k == Role.Kind.ATTENTION
                    || q.sharedHigh() && (k == Role.Kind.SHARED_EXPERT || k == Role.Kind.DENSE_MLP)
                    || m.layer() >= 0 && m.layer() < q.firstBlocks()
                    || k == Role.Kind.ROUTED_EXPERT && q.topExperts() > 0 && topExpert(m, q.topExperts())
                    || outlier.getOrDefault(m, Double.NEGATIVE_INFINITY) >= threshold;
            out.put(m, opts.scheme().withBits(high ? q.highBits() : q.lowBits()));
        }
        return out;
    }

    private boolean topExpert(LinearModule m, int top) {
        long[] t = usage.orElseThrow().tokens().get(m.layer());
        if (t == null) {
            return false;
        }
        long mine = t[m.expert()];
        int above = 0;
        for (int e = 0; e < t.length; e++) {
            if (t[e] > mine || t[e] == mine && e < m.expert()) {
                above++;
            }
        }
        return above < top;
    }

    private Map<LinearModule, QuantScheme> budget(List<LinearModule> free, Allocation.Budget b, Map<LinearModule, QuantScheme> fixed) {
        List<Integer> cands = b.candidates().stream().sorted().distinct().toList();
        long params = free.stream().mapToLong(LinearModule::params).sum() + fixed.keySet().stream().mapToLong(LinearModule::params).sum();
        long fixedBits = fixed.entrySet().stream().mapToLong(e -> Storage.bits(e.getKey(), e.getValue(), opts.format(), opts.gptq().actOrder(), weightType)).sum();
        long budget = (long) Math.floor(b.averageBits() * params) - fixedBits;
        List<List<LinearModule>> units = units(free);
        List<BudgetSolver.Unit> su = new ArrayList<>();
        for (List<LinearModule> unit : units) {
            double[] err = new double[cands.size()];
            long[] bits = new long[cands.size()];
            for (LinearModule m : unit) {
                float[] w = Weights.read(checkpoint, m);
                double weight = m.role().kind() == Role.Kind.ROUTED_EXPERT && usage.isPresent() ? usage.get().relative(m.layer(), m.expert()) : 1.0;
                for (int c = 0; c < cands.size(); c++) {
                    QuantScheme s = opts.scheme().withBits(cands.get(c));
                    err[c] += weight * squaredError(w, Rtn.quantize(w, m.rows(), m.cols(), s, DType.F32).dequantize());
                    bits[c] += Storage.bits(m, s, opts.format(), opts.gptq().actOrder(), weightType);
                }
            }
            su.add(new BudgetSolver.Unit(err, bits));
        }
        int[] choice = BudgetSolver.solve(su, budget);
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (int u = 0; u < units.size(); u++) {
            QuantScheme s = opts.scheme().withBits(cands.get(choice[u]));
            units.get(u).forEach(m -> out.put(m, s));
        }
        return out;
    }

    /** Allocation units: each module alone, except routed experts of a layer together when bits must be uniform. */
    private List<List<LinearModule>> units(List<LinearModule> free) {
        List<List<LinearModule>> units = new ArrayList<>();
        Map<Integer, List<LinearModule>> experts = new LinkedHashMap<>();
        for (LinearModule m : free) {
            if (opts.uniformExpertBits() && m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                experts.computeIfAbsent(m.layer(), k -> new ArrayList<>()).add(m);
            } else {
                units.add(List.of(m));
            }
        }
        units.addAll(experts.values());
        return units;
    }

    /**
     * Output-error proxy of a weight perturbation: {@code ||W - Q||_F^2}, i.e. {@code E||(W - Q) x||^2} for inputs
     * with identity covariance; scaled per expert by its routed-token share when routing counts are known.
     */
    static double squaredNorm(float[] w) {
        double e = 0;
        for (float v : w) {
            e += (double) v * v;
        }
        return e;
    }

    static double squaredError(float[] w, float[] q) {
        double e = 0;
        for (int i = 0; i < w.length; i++) {
            double d = w[i] - q[i];
            e += d * d;
        }
        return e;
    }
}
