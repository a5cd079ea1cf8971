package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;

/** Writes the new routed-expert counts into a copy of config.json. */
final class ConfigEdit {
    /** Logical key of the family descriptions, then the synonyms HF families use (REAP's list plus DeepSeek's). */
    static final String LOGICAL_KEY = "num_experts";
    private static final List<String> SYNONYMS = List.of("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts");

    private ConfigEdit() {}

    /** The config key holding the routed-expert count: the family's keys first, then known synonyms. */
    static String expertCountKey(ModelSpec spec, ObjectNode config) {
        List<String> keys = new ArrayList<>(spec.family().configKeys().getOrDefault(LOGICAL_KEY, List.of()));
        keys.addAll(SYNONYMS);
        for (String k : keys) {
            JsonNode v = config.get(k);
            if (v != null && v.isNumber()) {
                return k;
            }
        }
        throw new CheckpointException("config.json: no routed-expert count under any of " + keys);
    }

    /**
     * A copy of {@code config} with the expert count set to {@code uniform} if every MoE layer keeps the same number,
     * else to a per-layer list over all decoder layers (dense layers keep the original value, unused by them).
     * {@code num_experts_per_tok} is left unchanged. Returns the new config.
     */
    static ObjectNode apply(ModelSpec spec, List<LayerResult> layers) {
        ObjectNode c = spec.config().deepCopy();
        String key = expertCountKey(spec, c);
        int original = c.get(key).asInt();
        int[] perLayer = new int[spec.layers()];
        java.util.Arrays.fill(perLayer, original);
        for (LayerResult lr : layers) {
            perLayer[lr.layer()] = lr.kept().size();
        }
        long distinct = layers.stream().mapToInt(lr -> lr.kept().size()).distinct().count();
        if (distinct <= 1) {
            c.put(key, layers.isEmpty() ? original : layers.getFirst().kept().size());
        } else {
            ArrayNode list = c.putArray(key);
            for (int v : perLayer) {
                list.add(v);
            }
        }
        return c;
    }
}
