package dev.moekit.quantize.alloc;

import java.util.List;
import java.util.PriorityQueue;

/**
 * Chooses one bit width per unit (a module, or all routed experts of a layer when bits must be uniform there) to
 * minimise the summed estimated error under a storage budget, by greedy marginal gain: start every unit at its
 * cheapest candidate, then repeatedly take the upgrade with the largest error reduction per extra stored bit that
 * still fits (an upgrade may skip candidates, e.g. 2 -> 4, when that gains more per bit). For convex
 * error-versus-bits curves this reaches the Lagrangian optimum at the budget; in general it is the standard greedy
 * knapsack approximation.
 */
final class BudgetSolver {
    private BudgetSolver() {
    }

    /**
     * One allocation unit.
     *
     * @param errors estimated error at each candidate (same order as {@code bits})
     * @param bits   stored bits at each candidate, increasing
     */
    record Unit(double[] errors, long[] bits) {
        Unit {
            if (errors.length != bits.length || errors.length == 0) {
                throw new IllegalArgumentException("budget unit needs one error and one size per candidate");
            }
        }
    }

    private record Step(int unit, int from, int to, double gain, long cost) {}

    /** Candidate index per unit, with total stored bits at most {@code budgetBits}. */
    static int[] solve(List<Unit> units, long budgetBits) {
        int[] choice = new int[units.size()];
        long used = 0;
        for (Unit u : units) {
            used += u.bits()[0];
        }
        if (used > budgetBits) {
            throw new IllegalArgumentException("bit budget of " + budgetBits + " bits is below the smallest allocation ("
                    + used + " bits); raise the average bits or allow fewer bits");
        }
        PriorityQueue<Step> queue = new PriorityQueue<>((a, b) -> Double.compare(b.gain(), a.gain()));
        for (int i = 0; i < units.size(); i++) {
            offer(queue, units.get(i), i, 0, budgetBits - used);
        }
        while (!queue.isEmpty()) {
            Step s = queue.poll();
            if (choice[s.unit()] != s.from()) {
                continue; // stale
            }
            if (used + s.cost() > budgetBits) {
                offer(queue, units.get(s.unit()), s.unit(), s.from(), budgetBits - used); // a smaller step may fit
                continue;
            }
            choice[s.unit()] = s.to();
            used += s.cost();
            offer(queue, units.get(s.unit()), s.unit(), s.to(), budgetBits - used);
        }
        return choice;
    }

    /** Queues the best-gain-per-bit upgrade of {@code u} from candidate {@code from} that costs at most {@code room}. */
    private static void offer(PriorityQueue<Step> queue, Unit u, int unit, int from, long room) {
        Step best = null;
        for (int to = from + 1; to < u.bits().length; to++) {
            long cost = u.bits()[to] - u.bits()[from];
            if (cost <= 0 || cost > room) {
                continue;
            }
            double gain = (u.errors()[from] - u.errors()[to]) / cost;
            if (gain > 0 && (best == null || gain > best.gain())) {
                best = new Step(unit, from, to, gain, cost);
            }
        }
        if (best != null) {
            queue.add(best);
        }
    }
}
