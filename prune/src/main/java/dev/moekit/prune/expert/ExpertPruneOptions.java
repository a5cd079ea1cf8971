package dev.moekit.prune.expert;

/**
 * The budget of expert pruning, shared by every method (the {@code prune} stage's own keys); the method and its
 * parameters are a {@link BoundPruner}.
 *
 * @param pruneRatio fraction of routed experts to remove, in [0, 1)
 * @param keep       explicit budget overriding the ratio when positive: experts kept per layer (UNIFORM) or in total
 *                   (GLOBAL)
 * @param allocation UNIFORM (default, loads in stock HF) or GLOBAL (methods that {@link ExpertPruner#allocatesGlobally})
 * @param topKGuard  what happens when a layer would keep fewer than top-k experts
 * @param seed       seed of randomised methods
 */
public record ExpertPruneOptions(double pruneRatio, int keep, Allocation allocation, TopKGuard topKGuard, long seed) {
    public ExpertPruneOptions {
        allocation = allocation == null ? Allocation.UNIFORM : allocation;
        topKGuard = topKGuard == null ? TopKGuard.ERROR : topKGuard;
        if (!(pruneRatio >= 0 && pruneRatio < 1)) {
            throw new IllegalArgumentException("expert pruning: prune ratio must be in [0, 1), got " + pruneRatio);
        }
        if (keep < 0) {
            throw new IllegalArgumentException("expert pruning: keep must be >= 0, got " + keep);
        }
        if (pruneRatio == 0 && keep == 0) {
            throw new IllegalArgumentException("expert pruning: give a prune ratio > 0 or an explicit keep count");
        }
    }

    /** Remove {@code ratio} of the routed experts of every layer, uniformly, seed 0. */
    public static ExpertPruneOptions ratio(double ratio) {
        return new ExpertPruneOptions(ratio, 0, Allocation.UNIFORM, TopKGuard.ERROR, 0);
    }

    /** Keep {@code count} experts per layer (uniform) or in total (global), seed 0. */
    public static ExpertPruneOptions keep(int count) {
        return new ExpertPruneOptions(0, count, Allocation.UNIFORM, TopKGuard.ERROR, 0);
    }

    public ExpertPruneOptions withAllocation(Allocation a) {
        return new ExpertPruneOptions(pruneRatio, keep, a, topKGuard, seed);
    }

    public ExpertPruneOptions withTopKGuard(TopKGuard g) {
        return new ExpertPruneOptions(pruneRatio, keep, allocation, g, seed);
    }

    public ExpertPruneOptions withSeed(long s) {
        return new ExpertPruneOptions(pruneRatio, keep, allocation, topKGuard, s);
    }
}
