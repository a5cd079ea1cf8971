package dev.moekit.quantize.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BudgetSolverTest {
    @Test
    void solverMatchesBruteForceOnConvexAndNonConvexCurves() {
        Random r = new Random(5);
        for (int trial = 0; trial < 100; trial++) {
            List<BudgetSolver.Unit> units = new ArrayList<>();
            for (int u = 0; u < 4; u++) {
                long size = 100 + r.nextInt(900);
                double e0 = 1 + r.nextDouble() * 10;
                // even trials: error quarters per extra bit (convex); odd: random decreasing errors (a greedy by gain per
                // bit is not optimal there); bits 2, 3, 4, 8
                double[] e = trial % 2 == 0 ? new double[] {e0, e0 / 4, e0 / 16, e0 / 4096}
                        : new double[] {e0, e0 * r.nextDouble(), 0, 0};
                if (trial % 2 == 1) {
                    e[2] = e[1] * r.nextDouble();
                    e[3] = e[2] * r.nextDouble();
                }
                units.add(new BudgetSolver.Unit(e, new long[] {2 * size, 3 * size, 4 * size, 8 * size}));
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
            assertEquals(best, err, 1e-12 * best, "the optimum (room below the DP's cells: exact)");
        }
        assertThrows(IllegalArgumentException.class, () -> BudgetSolver.solve(List.of(new BudgetSolver.Unit(new double[] {1}, new long[] {10})), 9));
    }

    /** Candidates in any order (whole schemes: the cheapest need not come first) still give the brute-force optimum. */
    @Test
    void candidatesInAnyOrderGiveTheOptimumWithinBudget() {
        Random r = new Random(11);
        for (int trial = 0; trial < 100; trial++) {
            List<BudgetSolver.Unit> units = new ArrayList<>();
            for (int u = 0; u < 3; u++) {
                int k = 5;
                double[] e = new double[k];
                long[] bits = new long[k];
                for (int c = 0; c < k; c++) {
                    bits[c] = 200 + r.nextInt(800);
                    e[c] = r.nextDouble();
                }
                units.add(new BudgetSolver.Unit(e, bits));
            }
            long min = units.stream().mapToLong(x -> java.util.Arrays.stream(x.bits()).min().orElseThrow()).sum();
            long budget = min + r.nextInt(1500);
            int[] pick = BudgetSolver.solve(units, budget);
            double best = Double.MAX_VALUE;
            for (int a = 0; a < 5; a++) {
                for (int b = 0; b < 5; b++) {
                    for (int c = 0; c < 5; c++) {
                        int[] ch = {a, b, c};
                        long bits = 0;
                        double err = 0;
                        for (int u = 0; u < 3; u++) {
                            bits += units.get(u).bits()[ch[u]];
                            err += units.get(u).errors()[ch[u]];
                        }
                        if (bits <= budget) {
                            best = Math.min(best, err);
                        }
                    }
                }
            }
            long used = 0;
            double err = 0;
            for (int u = 0; u < 3; u++) {
                used += units.get(u).bits()[pick[u]];
                err += units.get(u).errors()[pick[u]];
            }
            assertTrue(used <= budget, "within budget: " + used + " > " + budget);
            assertEquals(best, err, 1e-12, "the optimum");
        }
    }
}
