package dev.moekit.prune.expert.stun;

/** How STUN's single global threshold tau is searched so that the total number of kept experts meets the target. */
public enum ThresholdSearch {
    /**
     * Bisection over the distinct pair distances of all layers (the only values of tau where any result changes), for
     * the smallest tau whose total kept count is at most the target. Exact whenever the target is reachable and the
     * count falls monotonically with tau. Default.
     */
    BISECTION,
    /**
     * The reference script's search: start at the median distance, move tau by a step (0.1) that doubles until the
     * direction first changes and halves after; falls back to {@link #BISECTION} when it stalls or runs 200 rounds.
     */
    STEP
}
