package dev.moekit.prune.expert.score;

import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.model.Routing;
import java.util.function.Supplier;

/**
 * What a scorer may look at for one MoE layer. Weight suppliers read lazily, so criteria that only need statistics
 * never touch the expert tensors.
 *
 * @param layer          decoder layer index
 * @param experts        routed experts E
 * @param topK           experts per token k
 * @param hidden         hidden size
 * @param routing        the family's routing
 * @param stats          calibration statistics
 * @param router         [E, hidden] router weight as fp32
 * @param correctionBias [E] selection bias (DeepSeek-V3) or null
 * @param weights        the layer's expert weights
 * @param seed           seed for randomised criteria
 */
public record LayerContext(int layer, int experts, int topK, int hidden, Routing routing, StatsSource stats,
                           Supplier<float[]> router, Supplier<double[]> correctionBias, ExpertReader weights, long seed) {}
