package dev.moekit.quantize.alloc;

import java.util.List;

/**
 * Chooses one bit width per unit (a module, or all routed experts of a layer when bits must be uniform there) to
 * minimise the summed estimated error under a storage budget: the multiple-choice knapsack solved exactly by dynamic
 * programming over the budget above the cheapest allocation, in at most {@value #CELLS} cells (each upgrade's extra
 * bits rounded up to whole cells, so the result never exceeds the budget and is optimal for the rounded costs; with
 * room under {@value #CELLS} bits it is exact). A greedy by error reduction per bit, as before, strands budget when a
 * large unit (a layer's experts) no longer fits and fills it with small upgrades; the DP does not.
 */
final class BudgetSolver {
    private BudgetSolver() {
    }

    /**
     * One allocation unit.
     *
     * @param errors estimated error at each candidate (same order as {@code bits})
     * @param bits   stored bits at each candidate (any order)
     */
    record Unit(double[] errors, long[] bits) {
        Unit {
            if (errors.length != bits.length || errors.length == 0) {
                throw new IllegalArgumentException("budget unit needs one error and one size per candidate");
            }
        }
    }

    /** Budget resolution of the dynamic programme. */
    static final int CELLS = 20_000;

    /** Candidate index per unit, with total stored bits at most {@code budgetBits}. */
    static int[] solve(List<Unit> units, long budgetBits) {
        int n = units.size();
        long[] base = new long[n]; // each unit's cheapest candidate
        long used = 0;
        for (int u = 0; u < n; u++) {
            base[u] = java.util.Arrays.stream(units.get(u).bits()).min().orElseThrow();
            used += base[u];
        }
        if (used > budgetBits) {
            throw new IllegalArgumentException("bit budget of " + budgetBits + " bits is below the smallest allocation ("
                    + used + " bits); raise the average bits or allow fewer bits");
        }
        long room = budgetBits - used;
        long grain = Math.max(1, (room + CELLS - 1) / CELLS);
        int cap = (int) (room / grain);
        double[] best = new double[cap + 1];      // least error of the units so far within c cells (java.util: zeros)
        byte[][] pick = new byte[n][cap + 1];
        for (int u = 0; u < n; u++) {
            Unit unit = units.get(u);
            int k = unit.bits().length;
            long[] cost = new long[k];
            for (int c = 0; c < k; c++) {
                long extra = unit.bits()[c] - base[u];
                cost[c] = extra <= 0 ? 0 : (extra + grain - 1) / grain;
            }
            double[] next = new double[cap + 1];
            for (int c = 0; c <= cap; c++) {
                double v = Double.POSITIVE_INFINITY;
                byte arg = 0;
                for (int j = 0; j < k; j++) {
                    if (cost[j] <= c) {
                        double e = best[(int) (c - cost[j])] + unit.errors()[j];
                        if (e < v) {
                            v = e;
                            arg = (byte) j;
                        }
                    }
                }
                next[c] = v;
                pick[u][c] = arg;
            }
            best = next;
        }
        int[] choice = new int[n];
        int c = cap;
        for (int u = n - 1; u >= 0; u--) {
            int j = pick[u][c];
            choice[u] = j;
            long extra = units.get(u).bits()[j] - base[u];
            c -= (int) (extra <= 0 ? 0 : (extra + grain - 1) / grain);
        }
        return choice;
    }
}
