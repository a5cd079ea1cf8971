package dev.moekit.prune.expert.stun;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/** Picks STUN thresholds: one global tau for a total budget, or one tau per layer for a uniform count. */
final class BudgetSearch {
    /**
     * The outcome of a search.
     *
     * @param layers  per-layer clustering (tau inside each)
     * @param kept    total clusters (kept experts)
     * @param exact   whether the target was met exactly
     * @param rounds  clustering passes over all layers
     */
    record Result(List<Clustering> layers, int kept, boolean exact, int rounds) {
        Result {
            layers = List.copyOf(layers);
        }
    }

    private BudgetSearch() {}

    /** One global tau so that the sum over layers of clusters equals {@code target} (or comes as close as it can). */
    static Result global(List<GreedyClustering> layers, int[] maxPrune, int target, ThresholdSearch mode) {
        int all = layers.stream().mapToInt(GreedyClustering::experts).sum();
        int floor = 0;
        for (int l = 0; l < layers.size(); l++) {
            floor += layers.get(l).experts() - maxPrune[l];
        }
        if (target > all || target < floor) {
            throw new IllegalArgumentException("target of " + target + " kept experts is outside [" + floor + ", " + all
                    + "] allowed by the per-layer pruning limit");
        }
        if (mode == ThresholdSearch.STEP) {
            Result r = step(layers, maxPrune, target);
            if (r.exact()) {
                return r;
            }
            Result b = bisection(layers, maxPrune, target);
            return new Result(b.layers(), b.kept(), b.exact(), b.rounds() + r.rounds());
        }
        return bisection(layers, maxPrune, target);
    }

    private static List<Clustering> runAll(List<GreedyClustering> layers, int[] maxPrune, double tau) {
        List<Clustering> out = new ArrayList<>(layers.size());
        for (int l = 0; l < layers.size(); l++) {
            out.add(layers.get(l).run(tau, maxPrune[l]));
        }
        return out;
    }

    private static int total(List<Clustering> c) {
        return c.stream().mapToInt(Clustering::size).sum();
    }

    private static Result bisection(List<GreedyClustering> layers, int[] maxPrune, int target) {
        TreeSet<Double> set = new TreeSet<>();
        for (GreedyClustering g : layers) {
            for (double v : g.distinctDistances()) {
                set.add(v);
            }
        }
        // candidate k: tau just above the k-th distinct distance; k = -1: below all (nothing merges)
        double[] cand = set.stream().mapToDouble(Double::doubleValue).toArray();
        int lo = -1;
        int hi = cand.length - 1;
        int rounds = 0;
        List<Clustering> best = runAll(layers, maxPrune, tauAt(cand, lo));
        rounds++;
        if (total(best) <= target) {
            return new Result(best, total(best), total(best) == target, rounds);
        }
        List<Clustering> atHi = runAll(layers, maxPrune, tauAt(cand, hi));
        rounds++;
        // invariant: total(lo) > target >= total(hi) (when reachable)
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            List<Clustering> m = runAll(layers, maxPrune, tauAt(cand, mid));
            rounds++;
            if (total(m) <= target) {
                hi = mid;
                atHi = m;
            } else {
                lo = mid;
                best = m;
            }
        }
        int kHi = total(atHi);
        int kLo = total(best);
        boolean takeHi = kHi == target || (target - kHi) < (kLo - target);
        List<Clustering> pick = takeHi ? atHi : best;
        return new Result(pick, total(pick), total(pick) == target, rounds);
    }

    private static double tauAt(double[] cand, int k) {
        if (k < 0) {
            return cand.length == 0 ? 0 : cand[0];
        }
        return Math.nextUp(cand[k]);
    }

    private static Result step(List<GreedyClustering> layers, int[] maxPrune, int target) {
        double[] all = layers.stream().flatMapToDouble(g -> Arrays.stream(g.distinctDistances())).sorted().toArray();
        double tau = all.length == 0 ? 0 : all[all.length / 2];
        double step = 0.1;
        int lastDir = 0;
        boolean changed = false;
        int[] history = new int[200];
        for (int round = 0; round < history.length; round++) {
            List<Clustering> c = runAll(layers, maxPrune, tau);
            int kept = total(c);
            if (kept == target) {
                return new Result(c, kept, true, round + 1);
            }
            history[round] = kept;
            if (round >= 10 && Arrays.stream(history, round - 9, round + 1).distinct().count() == 1) {
                return new Result(c, kept, false, round + 1);
            }
            int dir = kept < target ? -1 : 1;
            changed |= lastDir * dir < 0;
            step = changed ? step / 2 : step * 2;
            tau += step * dir;
            lastDir = dir;
        }
        List<Clustering> c = runAll(layers, maxPrune, tau);
        return new Result(c, total(c), false, history.length);
    }

    /**
     * Uniform mode: in every layer the smallest tau (over that layer's distances) that leaves exactly {@code keep}
     * clusters, with the per-layer limit E - keep; tau = +inf (every merge accepted up to the limit) always reaches it.
     */
    static Result uniform(List<GreedyClustering> layers, int keep) {
        List<Clustering> out = new ArrayList<>();
        int rounds = 0;
        for (GreedyClustering g : layers) {
            int maxPrune = g.experts() - keep;
            double[] cand = g.distinctDistances();
            int lo = -1;
            int hi = cand.length;
            Clustering found = g.run(Double.POSITIVE_INFINITY, maxPrune);
            rounds++;
            while (hi - lo > 1) {
                int mid = (lo + hi) >>> 1;
                Clustering m = g.run(Math.nextUp(cand[mid]), maxPrune);
                rounds++;
                if (m.size() == keep) {
                    hi = mid;
                    found = m;
                } else {
                    lo = mid;
                }
            }
            out.add(found);
        }
        return new Result(out, out.stream().mapToInt(Clustering::size).sum(), true, rounds);
    }
}
