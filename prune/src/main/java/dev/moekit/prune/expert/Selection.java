package dev.moekit.prune.expert;

import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.List;

/**
 * What an {@link ExpertPruner} may read while it selects: the input checkpoint (metadata; weights on demand), its
 * MoE layers, the calibration statistics, the budget with the top-k guard applied, and the seed.
 */
public interface Selection {
    Checkpoint checkpoint();

    ModelSpec spec();

    /** The MoE layers to decide, in order. */
    List<LayerSpec> layers();

    /** Calibration statistics ({@link StatsSource#NONE} when the method does not calibrate). */
    StatsSource stats();

    /** Seed of every random choice. */
    long seed();

    /** Whether the budget is one total over all layers ({@code allocation: global}) rather than per layer. */
    boolean global();

    /** Total kept experts asked for (both allocations). */
    int target();

    /** Kept experts of {@code layer} in uniform allocation, checked against top-k (may clamp, with a note). */
    int keep(LayerSpec layer);

    /**
     * At most how many experts {@code layer} may lose: {@code cap} (0: E - top-k, and at most E - 1), checked against
     * top-k like {@link #keep}.
     */
    int maxPrune(LayerSpec layer, int cap);

    /** A reader of the layer's expert weights (fp32, chunked); close it after the layer. */
    ExpertReader experts(int layer);

    /** The layer's router weight [E, hidden] as fp32, shape checked. */
    float[] router(int layer);

    /** The layer's selection bias (DeepSeek-V3 {@code e_score_correction_bias}) [E], or null. */
    double[] correctionBias(int layer);
}
