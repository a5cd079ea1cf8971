package dev.moekit.distill;

/** How the teacher's top-k logits are obtained. */
public enum TeacherCache {
    /** Computed once per window on its first visit and kept (on disk in the state folder, else in memory). */
    CACHE,
    /** Recomputed every step (large data sets, or one epoch). */
    LIVE,
    /** CACHE when the run visits windows more than once and the cache fits 1 GiB, else LIVE. */
    AUTO
}
