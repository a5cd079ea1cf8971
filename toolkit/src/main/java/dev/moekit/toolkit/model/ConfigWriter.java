package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Writes config.json values by their logical names (those of the family descriptions: {@code num_experts},
 * {@code expert_ffn}, {@code heads}, {@code kv_heads}, {@code head_dim}, ...), in the spelling the config already
 * uses or else the family's own (the first synonym), so no stage keeps lists of HF key synonyms. Works on a copy;
 * {@link #build} returns it. {@link #convert} starts a config of another family from a model's logical values, for
 * methods that write other families than they read (upcycling a dense Llama into a Mixtral, a MoE with attention
 * experts).
 *
 * <pre>{@code
 * ObjectNode c = ConfigWriter.of(spec).set("num_experts", 6).set("expert_ffn", 256).build();
 * }</pre>
 */
public final class ConfigWriter {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final Family family;
    private final ObjectNode config;

    private ConfigWriter(Family family, ObjectNode config) {
        this.family = family;
        this.config = config;
    }

    /** Edits a copy of {@code spec}'s config. */
    public static ConfigWriter of(ModelSpec spec) {
        return of(spec.family(), spec.config());
    }

    /** Edits a copy of {@code base}, a config of {@code family}. */
    public static ConfigWriter of(Family family, ObjectNode base) {
        return new ConfigWriter(family, base.deepCopy());
    }

    /**
     * A config of family {@code to} carrying every logical value of {@code from} that both families know (layers,
     * hidden size, heads, vocabulary, rope, norms, dtype, ...), plus {@code to}'s {@code architectures} and
     * {@code model_type}. Keys of the source that are not logical (bos/eos ids, initializer_range, ...) are kept.
     */
    public static ConfigWriter convert(ModelSpec from, Family to) {
        ObjectNode c = from.config().deepCopy();
        Family src = from.family();
        ConfigWriter w = new ConfigWriter(to, F.objectNode());
        // keep everything that is not a logical key of the source, then write the logical ones in the target's spelling
        for (List<String> keys : src.configKeys().values()) {
            for (String k : keys) {
                if (!k.contains(".")) {
                    c.remove(k);
                }
            }
        }
        w.config.setAll(c);
        ConfigWriter source = new ConfigWriter(src, from.config());
        for (var e : src.configKeys().entrySet()) {
            String logical = e.getKey();
            if (!to.configKeys().containsKey(logical) || to.configKeys().get(logical).isEmpty()) {
                continue;
            }
            e.getValue().stream().map(source::lookup).filter(v -> v != null && !v.isNull()).findFirst().ifPresent(v -> w.set(logical, v));
        }
        w.raw("architectures", F.arrayNode().add(to.architectures().getFirst()));
        w.raw("model_type", F.textNode(to.modelTypes().getFirst()));
        return w;
    }

    /** The config key a logical key is written under: the spelling the config uses, else the family's own. */
    public String key(String logical) {
        List<String> keys = family.configKeys().get(logical);
        if (keys == null || keys.isEmpty()) {
            throw new IllegalArgumentException("family " + family.name() + " has no config key for '" + logical + "'");
        }
        return keys.stream().filter(this::present).filter(k -> k.equals(keys.getFirst()) || !primaryOfAnother(logical, k))
                .findFirst().orElse(keys.getFirst());
    }

    /**
     * Whether {@code key} is another logical key's own spelling: Qwen2-MoE reads the expert width from
     * {@code moe_intermediate_size} and falls back to {@code intermediate_size}, the dense width; writing an expert
     * width into the fallback because a dense width is present would make transformers build the experts wrong.
     */
    private boolean primaryOfAnother(String logical, String key) {
        return family.configKeys().entrySet().stream()
                .anyMatch(e -> !e.getKey().equals(logical) && !e.getValue().isEmpty() && e.getValue().getFirst().equals(key));
    }

    /** Sets a logical key; an error when the family has no config key for it. */
    public ConfigWriter set(String logical, JsonNode value) {
        put(key(logical), value);
        return this;
    }

    public ConfigWriter set(String logical, long value) {
        // an int where it fits, as a parsed config holds it
        return set(logical, value == (int) value ? F.numberNode((int) value) : F.numberNode(value));
    }

    public ConfigWriter set(String logical, double value) {
        return set(logical, F.numberNode(value));
    }

    public ConfigWriter set(String logical, boolean value) {
        return set(logical, F.booleanNode(value));
    }

    /** Sets a logical key to a per-layer list (e.g. expert counts per layer). */
    public ConfigWriter perLayer(String logical, int[] values) {
        ArrayNode a = F.arrayNode();
        for (int v : values) {
            a.add(v);
        }
        return set(logical, a);
    }

    /** Removes every spelling of a logical key. */
    public ConfigWriter remove(String logical) {
        for (String k : family.configKeys().getOrDefault(logical, List.of())) {
            if (!k.contains(".")) {
                config.remove(k);
            }
        }
        return this;
    }

    /** Sets a key that is not a logical key of the family ({@code auto_map}, {@code use_ce}, {@code quantization_config}). */
    public ConfigWriter raw(String key, JsonNode value) {
        config.set(key, value);
        return this;
    }

    /** The edited config. */
    public ObjectNode build() {
        return config.deepCopy();
    }

    private boolean present(String dotted) {
        JsonNode n = lookup(dotted);
        return n != null && !n.isNull();
    }

    private JsonNode lookup(String dotted) {
        JsonNode n = config;
        for (String part : dotted.split("\\.")) {
            n = n == null ? null : n.get(part);
        }
        return n;
    }

    private void put(String dotted, JsonNode value) {
        String[] parts = dotted.split("\\.");
        ObjectNode o = config;
        for (int i = 0; i < parts.length - 1; i++) {
            JsonNode next = o.get(parts[i]);
            o = next instanceof ObjectNode on ? on : o.putObject(parts[i]);
        }
        o.set(parts[parts.length - 1], value);
    }
}
