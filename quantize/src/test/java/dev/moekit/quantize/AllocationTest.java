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
