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
}
