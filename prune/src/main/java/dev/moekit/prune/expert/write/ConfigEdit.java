package dev.moekit.prune.expert.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ConfigWriter;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the new routed-expert counts into a copy of config.json through {@link ConfigWriter}, under the family's own
 * key for the logical {@code num_experts} (num_local_experts, num_experts, n_routed_experts, ...).
 */
public final class ConfigEdit {
    /** Logical key of the family descriptions. */
    public static final String LOGICAL_KEY = "num_experts";

    private ConfigEdit() {}

    /** The config key holding the routed-expert count. */
    public static String expertCountKey(ModelSpec spec, ObjectNode config) {
        try {
            return ConfigWriter.of(spec.family(), config).key(LOGICAL_KEY);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("config.json: " + e.getMessage());
        }
    }

    /**
     * A copy of {@code config} with the expert count set to {@code uniform} if every MoE layer keeps the same number,
     * else to a per-layer list over all decoder layers (dense layers keep the original value, unused by them).
     * {@code num_experts_per_tok} is left unchanged. Returns the new config.
     */
    public static ObjectNode apply(ModelSpec spec, List<LayerResult> layers) {
        Map<Integer, Integer> kept = new LinkedHashMap<>();
        layers.forEach(lr -> kept.put(lr.layer(), lr.kept().size()));
        return apply(spec, kept);
    }

    /** As {@link #apply(ModelSpec, List)}, from the kept count per MoE layer index (in layer order). */
    public static ObjectNode apply(ModelSpec spec, Map<Integer, Integer> keptByLayer) {
        ConfigWriter w = ConfigWriter.of(spec);
        String key = expertCountKey(spec, spec.config());
        JsonNode current = spec.config().get(key);
        if (current == null || !current.isNumber()) {
            throw new CheckpointException("config.json: routed-expert count '" + key + "' is not a number");
        }
        int original = current.asInt();
        if (keptByLayer.values().stream().distinct().count() <= 1) {
            return w.set(LOGICAL_KEY, keptByLayer.isEmpty() ? original : keptByLayer.values().iterator().next()).build();
        }
        int[] perLayer = new int[spec.layers()];
        java.util.Arrays.fill(perLayer, original);
        keptByLayer.forEach((l, k) -> perLayer[l] = k);
        return w.perLayer(LOGICAL_KEY, perLayer).build();
    }
}
