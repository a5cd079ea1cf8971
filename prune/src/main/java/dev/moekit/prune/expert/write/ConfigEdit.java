package dev.moekit.prune.expert.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes the new routed-expert counts into a copy of config.json. */
public final class ConfigEdit {
    /** Logical key of the family descriptions, then the synonyms HF families use (REAP's list plus DeepSeek's). */
    public static final String LOGICAL_KEY = "num_experts";
    private static final List<String> SYNONYMS = List.of("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts");

    private ConfigEdit() {}

    /** The config key holding the routed-expert count: the family's keys first, then known synonyms. */
    public static String expertCountKey(ModelSpec spec, ObjectNode config) {
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
    public static ObjectNode apply(ModelSpec spec, List<LayerResult> layers) {
        Map<Integer, Integer> kept = new LinkedHashMap<>();
        layers.forEach(lr -> kept.put(lr.layer(), lr.kept().size()));
        return apply(spec, kept);
    }

    /** As {@link #apply(ModelSpec, List)}, from the kept count per MoE layer index (in layer order). */
    public static ObjectNode apply(ModelSpec spec, Map<Integer, Integer> keptByLayer) {
        ObjectNode c = spec.config().deepCopy();
        String key = expertCountKey(spec, c);
        int original = c.get(key).asInt();
        int[] perLayer = new int[spec.layers()];
        java.util.Arrays.fill(perLayer, original);
        keptByLayer.forEach((l, k) -> perLayer[l] = k);
        long distinct = keptByLayer.values().stream().distinct().count();
        if (distinct <= 1) {
            c.put(key, keptByLayer.isEmpty() ? original : keptByLayer.values().iterator().next());
        } else {
            ArrayNode list = c.putArray(key);
            for (int v : perLayer) {
                list.add(v);
            }
        }
        return c;
    }
}
