package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AllocationTest {
    static final Path QWEN = TestWeights.MIXTRAL.resolveSibling("qwen2moe-tiny");

    @TempDir
    Path tmp;

    @Test
    void greedySolverMatchesBruteForceOnConvexCurves() {
        Random r = new Random(5);
        for (int trial = 0; trial < 50; trial++) {
            List<BudgetSolver.Unit> units = new ArrayList<>();
            for (int u = 0; u < 4; u++) {
                long size = 100 + r.nextInt(900);
                double e0 = 1 + r.nextDouble() * 10;
                // error quarters per extra bit (convex), bits 2, 3, 4, 8
                units.add(new BudgetSolver.Unit(new double[] {e0, e0 / 4, e0 / 16, e0 / 4096}, new long[] {2 * size, 3 * size, 4 * size, 8 * size}));
            }
            long min = units.stream().mapToLong(x -> x.bits()[0]).sum();
            long budget = min + r.nextInt((int) min * 2);
            int[] greedy = BudgetSolver.solve(units, budget);
            double best = Double.MAX_VALUE;
            for (int code = 0; code < 256; code++) {
                long bits = 0;
                double err = 0;
                for (int u = 0; u < 4; u++) {
                    int c = (code >> (2 * u)) & 3;
                    bits += units.get(u).bits()[c];
                    err += units.get(u).errors()[c];
                }
                if (bits <= budget) {
                    best = Math.min(best, err);
                }
            }
            long used = 0;
            double err = 0;
            for (int u = 0; u < 4; u++) {
                used += units.get(u).bits()[greedy[u]];
                err += units.get(u).errors()[greedy[u]];
            }
            assertTrue(used <= budget, "within budget");
            assertTrue(err <= best * 1.35 + 1e-12, "greedy error " + err + " near the optimum " + best);
        }
        assertThrows(IllegalArgumentException.class, () -> BudgetSolver.solve(List.of(new BudgetSolver.Unit(new double[] {1}, new long[] {10})), 9));
    }

    @Test
    void budgetSolverHitsTheAverageBitsOnARealModel() {
        for (double target : new double[] {3.0, 2.5}) {
            for (boolean uniform : new boolean[] {true, false}) {
                QuantOptions o = QuantOptions.defaults(Format.COMPRESSED_TENSORS).withUniformExpertBits(uniform)
                        .withAllocation(new Allocation.Budget(target, List.of(2, 3, 4, 8)));
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

    @Test
    void quantMoeHeuristicsFavourAttentionSharedEarlyAndBusyExperts() {
        try (Checkpoint in = Checkpoint.open(QWEN)) {
            QuantOptions o = QuantOptions.defaults(Format.FAKE_QUANT).withUniformExpertBits(false)
                    .withAllocation(new Allocation.QuantMoe(4, 2, true, true, 1, 2, 0));
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

    @Test
    void outlierScoreFollowsItsDefinitionAndPicksTheTopFraction() {
        float[] w = new float[4 * 3]; // [4, 3]
        java.util.Arrays.fill(w, 1f);
        w[2 * 3 + 1] = 9f; // column 1: max 9, mean (1+1+9+1)/4 = 3
        assertEquals(3.0, OutlierScore.of(w, 4, 3), 1e-12);
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            QuantOptions o = QuantOptions.defaults(Format.FAKE_QUANT).withUniformExpertBits(false)
                    .withAllocation(new Allocation.QuantMoe(4, 2, false, false, 0, 0, 0.25));
            Map<LinearModule, QuantScheme> plan = Quantizer.plan(in, o, null);
            List<Map.Entry<LinearModule, QuantScheme>> experts = plan.entrySet().stream().filter(e -> e.getKey().expert() >= 0).toList();
            long high = experts.stream().filter(e -> e.getValue().bits() == 4).count();
            assertEquals(Math.round(0.25 * experts.size()), high);
            double minHigh = experts.stream().filter(e -> e.getValue().bits() == 4).mapToDouble(e -> score(in, e.getKey())).min().orElseThrow();
            double maxLow = experts.stream().filter(e -> e.getValue().bits() == 2).mapToDouble(e -> score(in, e.getKey())).max().orElseThrow();
            assertTrue(minHigh >= maxLow, "high bits go to the highest outlier scores");
        }
    }

    private static double score(Checkpoint in, LinearModule m) {
        return OutlierScore.of(Weights.read(in, m), m.rows(), m.cols());
    }
}
