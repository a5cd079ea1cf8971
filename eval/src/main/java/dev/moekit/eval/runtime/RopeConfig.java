package dev.moekit.eval.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;

/**
 * The RoPE variant a config asks for. Supported: {@code default} and {@code linear} (positions divided by
 * {@code factor}); any other {@code rope_type} (yarn, llama3, dynamic, longrope...) and partial rotary embeddings are
 * refused with an error naming the key, rather than silently scoring a different model.
 *
 * @param positionScale divisor of positions (1 for default RoPE)
 */
record RopeConfig(double positionScale) {
    private static final String[] SCALING_KEYS = {"rope_scaling", "rope_parameters"};

    static RopeConfig of(ModelSpec spec) {
        JsonNode config = spec.config();
        double scale = 1.0;
        for (String key : SCALING_KEYS) {
            JsonNode node = config.path(key);
            if (!node.isObject()) {
                continue;
            }
            String type = node.path("rope_type").asText(node.path("type").asText("default"));
            switch (type) {
                case "default" -> { }
                case "linear" -> scale = node.path("factor").asDouble(1.0);
                default -> throw new CheckpointException("config.json: " + key + ".rope_type '" + type
                        + "' is not supported by the eval runtime (default and linear are)");
            }
        }
        double partial = config.path("partial_rotary_factor").asDouble(1.0);
        if (partial != 1.0) {
            throw new CheckpointException("config.json: partial_rotary_factor " + partial
                    + " is not supported by the eval runtime");
        }
        if (config.hasNonNull("kv_lora_rank") || config.hasNonNull("q_lora_rank")) {
            throw new CheckpointException("config.json: multi-head latent attention (kv_lora_rank, DeepSeek-V2/V3)"
                    + " is not supported by the eval runtime yet");
        }
        if (scale <= 0) {
            throw new CheckpointException("config.json: rope scaling factor must be positive, got " + scale);
        }
        return new RopeConfig(scale);
    }
}
