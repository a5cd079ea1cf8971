package dev.moekit.quantize.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
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
            assertOptimal(units, min + r.nextInt((int) min * 2));
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
                double[] e = new double[5];
                long[] bits = new long[5];
                for (int c = 0; c < 5; c++) {
                    bits[c] = 200 + r.nextInt(800);
                    e[c] = r.nextDouble();
                }
                units.add(new BudgetSolver.Unit(e, bits));
            }
            long min = units.stream().mapToLong(x -> Arrays.stream(x.bits()).min().orElseThrow()).sum();
            assertOptimal(units, min + r.nextInt(1500));
        }
    }

    /** The solver stays within {@code budget} and reaches the least error of every choice that does (room below the DP's cells: exact). */
    private static void assertOptimal(List<BudgetSolver.Unit> units, long budget) {
        int[] pick = BudgetSolver.solve(units, budget);
        double best = Double.MAX_VALUE;
        int[] choice = new int[units.size()];
        while (true) {
            if (bits(units, choice) <= budget) {
                best = Math.min(best, error(units, choice));
            }
            int u = 0;
            while (u < choice.length && ++choice[u] == units.get(u).bits().length) {
                choice[u++] = 0;
            }
            if (u == choice.length) {
                break;
            }
        }
        assertTrue(bits(units, pick) <= budget, "within budget: " + bits(units, pick) + " > " + budget);
        assertEquals(best, error(units, pick), 1e-12 * Math.max(1, best), "the optimum");
    }

    private static long bits(List<BudgetSolver.Unit> units, int[] choice) {
        long b = 0;
        for (int u = 0; u < choice.length; u++) {
            b += units.get(u).bits()[choice[u]];
        }
        return b;
    }

    private static double error(List<BudgetSolver.Unit> units, int[] choice) {
        double e = 0;
        for (int u = 0; u < choice.length; u++) {
            e += units.get(u).errors()[choice[u]];
        }
        return e;
    }
}
