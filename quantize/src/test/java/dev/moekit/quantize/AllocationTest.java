package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.alloc.BudgetAllocator;
import dev.moekit.quantize.alloc.QuantMoeAllocator;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AllocationTest {
    static final Path QWEN = TestWeights.QWEN;

    @TempDir
    Path tmp;

    @Test
    void budgetSolverHitsTheAverageBitsOnARealModel() {
        for (double target : new double[] {3.0, 2.5}) {
            for (boolean uniform : new boolean[] {true, false}) {
                QuantOptions o = QuantOptions.defaults("compressed-tensors").withUniformExpertBits(uniform)   // calibration-free proxy
                        .withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(target, List.of(2, 3, 4, 8), "weight")));
                QuantReport r;
                try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
                    r = Quantizer.run(in, tmp.resolve("b" + target + uniform), o, null);
                }
                assertTrue(r.averageStoredBits() <= target + 1e-9, "stored bits " + r.averageStoredBits() + " within " + target);
                assertTrue(r.averageStoredBits() > target - 0.35, "budget used: " + r.averageStoredBits() + " for " + target);
                Set<Integer> widths = new HashSet<>();
                Map<Integer, Set<Integer>> expertBits = new HashMap<>();
                for (QuantReport.ModuleReport m : r.modules()) {
                    widths.add(m.bits());
                    if (m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                        expertBits.computeIfAbsent(m.layer(), k -> new HashSet<>()).add(m.bits());
                    }
                }
                assertTrue(widths.size() > 1, "a mixed allocation");
                if (uniform) {
                    expertBits.values().forEach(s -> assertEquals(1, s.size(), "one width per layer's experts"));
                }
                System.out.printf("budget %.1f uniform=%s: %.3f stored bits, %.3f code bits, %d bytes%n", target, uniform,
                        r.averageStoredBits(), r.averageBits(), r.quantizedBytes());
            }
        }
    }

    /**
     * Candidate schemes are a superset of candidate widths: on mixtral-tiny, at the same 3.0-bit budget, the solver
     * choosing among whole schemes (the four default-scheme widths plus asymmetric and smaller groups) reaches an
     * estimated error (the weight proxy it minimises, recomputed here from the plan) no larger than the widths-only
     * solver, within budget, and uses schemes other than the default's group and symmetry where they pay.
     */
    @Test
    void candidateSchemesNeverDoWorseThanCandidateWidthsAtTheSameBudget() {
        List<String> schemes = List.of("int2/g128/sym", "int3/g128/sym", "int4/g128/sym", "int8/g128/sym", "int2/g32/asym", "int2/g64/asym",
                "int3/g64/asym", "int3/channel/sym", "int4/g32/asym");
        QuantOptions base = QuantOptions.defaults("compressed-tensors").withUniformExpertBits(true);
        QuantOptions widths = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(3.0, List.of(2, 3, 4, 8), "weight")));
        QuantOptions whole = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(3.0, null, "weight", schemes)));
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            Map<LinearModule, QuantScheme> pw = Quantizer.plan(in, widths, null);
            Map<LinearModule, QuantScheme> ps = Quantizer.plan(in, whole, null);
            double ew = weightError(in, pw);
            double es = weightError(in, ps);
            double bs = storedBits(ps, whole, in);
            System.out.printf("mixtral-tiny weight proxy at 3.0 bits: widths %.4g (%.3f bits), schemes %.4g (%.3f bits)%n", ew, storedBits(pw, widths, in), es, bs);
            assertTrue(bs <= 3.0 + 1e-9, "within budget: " + bs);
            assertTrue(es <= ew * 1.001, "a superset of candidates: " + es + " vs " + ew);
            assertTrue(es < ew * 0.95, "the extra schemes pay on this model: " + es + " vs " + ew);
            assertTrue(ps.values().stream().anyMatch(s -> !s.symmetric() || s.groupSize() != 128), "schemes beyond the default's: " + new HashSet<>(ps.values()));
        }
    }

    private static double weightError(Checkpoint in, Map<LinearModule, QuantScheme> plan) {
        double e = 0;
        for (var m : plan.entrySet()) {
            LinearModule lm = m.getKey();
            float[] w = Weights.read(in, lm);
            float[] q = dev.moekit.quantize.method.Rtn.quantize(w, lm.rows(), lm.cols(), m.getValue(), dev.moekit.toolkit.io.DType.F32).dequantize();
            for (int i = 0; i < w.length; i++) {
                e += (w[i] - q[i]) * (double) (w[i] - q[i]);
            }
        }
        return e;
    }

    private static double storedBits(Map<LinearModule, QuantScheme> plan, QuantOptions o, Checkpoint in) {
        long params = 0;
        long bits = 0;
        var dtype = dev.moekit.toolkit.model.ModelSpec.of(in).dtype();
        for (var m : plan.entrySet()) {
            params += m.getKey().params();
            bits += o.format().storedBits(m.getKey(), m.getValue(), false, dtype);
        }
        return (double) bits / params;
    }

    /**
     * The acceptance in small: on mixtral-tiny, RTN with the solver's measured allocation at 3.0 stored bits is closer
     * to the original (mean KL on held-out test text) than uniform RTN int3 at 3.13 bits, and than the solver on the
     * old weight proxy at the same 3.0 bits.
     */
    @Test
    @org.junit.jupiter.api.Tag("slow")
    void measuredAllocationAtThreeBitsBeatsUniformInt3OnKl() {
        Path data = TestWeights.MIXTRAL.getParent().resolveSibling("data");
        dev.moekit.eval.CalibrationOptions co = dev.moekit.eval.CalibrationOptions.defaults(data).withWindows(256, 2);
        List<Path> test = List.of("dict", "kernel", "misc", "python").stream().map(d -> data.resolve(d + ".test.txt")).toList();
        dev.moekit.eval.EvalOptions ev = dev.moekit.eval.EvalOptions.of(test).withWindows(256, 2).withReference(TestWeights.MIXTRAL);
        QuantOptions base = QuantOptions.defaults("fake-quant").withUniformExpertBits(true);
        QuantOptions solver = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(3.0, List.of(2, 3, 4, 8))));
        QuantOptions old = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(3.0, List.of(2, 3, 4, 8), "weight")));
        QuantReport rs;
        QuantReport ru;
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            Sensitivity s = SensitivityProbe.forAllocation(in, solver, co, dev.moekit.eval.runtime.RuntimeOptions.cpu(), dev.moekit.eval.Progress.NONE)
                    .orElseThrow();
            rs = Quantizer.run(in, tmp.resolve("solver"), solver, CalibrationSource.sensitivityOnly(s));
            ru = Quantizer.run(in, tmp.resolve("int3"), base.withScheme(new QuantScheme(3, 128, true)), null);
            Quantizer.run(in, tmp.resolve("old"), old, null);
        }
        double klSolver = dev.moekit.eval.Evaluator.evaluate(tmp.resolve("solver"), ev, dev.moekit.eval.Progress.NONE).overallKl().mean();
        double klInt3 = dev.moekit.eval.Evaluator.evaluate(tmp.resolve("int3"), ev, dev.moekit.eval.Progress.NONE).overallKl().mean();
        double klOld = dev.moekit.eval.Evaluator.evaluate(tmp.resolve("old"), ev, dev.moekit.eval.Progress.NONE).overallKl().mean();
        System.out.printf("mixtral-tiny RTN: solver %.3f bits KL %.4f; uniform int3 %.3f bits KL %.4f; weight proxy KL %.4f%n",
                rs.averageStoredBits(), klSolver, ru.averageStoredBits(), klInt3, klOld);
        assertTrue(rs.averageStoredBits() <= 3.0 + 1e-9 && ru.averageStoredBits() > 3.1, "fewer bits for the solver");
        assertTrue(klSolver < klInt3, "measured allocation at 3.0 bits: KL " + klSolver + " vs uniform int3 " + klInt3);
        assertTrue(klSolver < klOld, "measured allocation: KL " + klSolver + " vs the weight proxy's " + klOld);
    }

    @Test
    void quantMoeHeuristicsFavourAttentionSharedEarlyAndBusyExperts() {
        try (Checkpoint in = Checkpoint.open(QWEN)) {
            QuantOptions o = QuantOptions.defaults("fake-quant").withUniformExpertBits(false)
                    .withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(4, 2, true, true, 1, 2, 0.0)));
            Map<Integer, long[]> counts = new HashMap<>();
            for (int l = 0; l < 6; l++) {
                long[] c = new long[32];
                c[7] = 1000;
                c[11] = 900;
                c[3] = 10;
                counts.put(l, c);
            }
            Map<LinearModule, QuantScheme> plan = Quantizer.plan(in, o, CalibrationSource.usageOnly(new ExpertUsage(counts)));
            for (var e : plan.entrySet()) {
                LinearModule m = e.getKey();
                boolean high = switch (m.role().kind()) {
                    case ATTENTION, SHARED_EXPERT, DENSE_MLP -> true;
                    case ROUTED_EXPERT -> m.layer() == 0 || m.expert() == 7 || m.expert() == 11;
                    default -> throw new AssertionError("unexpected module " + m);
                };
                assertEquals(high ? 4 : 2, e.getValue().bits(), m.module());
            }
            assertTrue(plan.keySet().stream().noneMatch(m -> m.role() == Role.ROUTER || m.role() == Role.SHARED_EXPERT_GATE));
            assertThrows(IllegalArgumentException.class, () -> Quantizer.plan(in, o.withUniformExpertBits(true), CalibrationSource.usageOnly(new ExpertUsage(counts))),
                    "per-expert choices conflict with uniform expert bits");
        }
    }
}
