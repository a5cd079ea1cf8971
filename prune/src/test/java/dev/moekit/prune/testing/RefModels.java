package dev.moekit.prune.testing;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.Routing;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The shared reference checkpoints and their specs. Uses {@link ModelSpec#of} once the families work provides it;
 * until then a hand-written description of the two tiny MoE families (test scaffolding only).
 */
public final class RefModels {
    private RefModels() {}

    public static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../../shared"));
    }

    public static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    public static ModelSpec spec(Checkpoint c) {
        try {
            return ModelSpec.of(c);
        } catch (UnsupportedOperationException notYet) {
            return fallback(c);
        }
    }

    private static ModelSpec fallback(Checkpoint c) {
        var cfg = c.config();
        String type = cfg.get("model_type").asText();
        int layers = cfg.get("num_hidden_layers").asInt();
        int hidden = cfg.get("hidden_size").asInt();
        int heads = cfg.get("num_attention_heads").asInt();
        int kv = cfg.get("num_key_value_heads").asInt();
        int topK = cfg.get("num_experts_per_tok").asInt();
        Map<Role, String> t = new EnumMap<>(Role.class);
        String p = "model.layers.${layer}.";
        t.put(Role.EMBED, "model.embed_tokens.weight");
        t.put(Role.FINAL_NORM, "model.norm.weight");
        t.put(Role.LM_HEAD, "lm_head.weight");
        t.put(Role.INPUT_NORM, p + "input_layernorm.weight");
        t.put(Role.POST_ATTN_NORM, p + "post_attention_layernorm.weight");
        for (var e : Map.of(Role.Q, "q", Role.K, "k", Role.V, "v", Role.O, "o").entrySet()) {
            t.put(e.getKey(), p + "self_attn." + e.getValue() + "_proj.weight");
        }
        List<LayerSpec> specs = new ArrayList<>();
        if (type.equals("mixtral")) {
            String m = p + "block_sparse_moe.";
            t.put(Role.ROUTER, m + "gate.weight");
            t.put(Role.EXPERT_GATE, m + "experts.${expert}.w1.weight");
            t.put(Role.EXPERT_UP, m + "experts.${expert}.w3.weight");
            t.put(Role.EXPERT_DOWN, m + "experts.${expert}.w2.weight");
            int e = cfg.get("num_local_experts").asInt();
            for (int l = 0; l < layers; l++) {
                specs.add(new LayerSpec(l, true, e, topK, cfg.get("intermediate_size").asInt(), 0, 0, false, 0));
            }
            Family f = new Family("mixtral", List.of("MixtralForCausalLM"), List.of("mixtral"), t,
                    Map.of("num_experts", List.of("num_local_experts")));
            return new ModelSpec(f, layers, hidden, heads, kv, hidden / heads, cfg.get("vocab_size").asInt(), 1e-5, 1e4, 0,
                    false, false, false, false, Routing.softmax(true), specs, DType.BF16, cfg);
        }
        String m = p + "mlp.";
        t.put(Role.Q_BIAS, p + "self_attn.q_proj.bias");
        t.put(Role.K_BIAS, p + "self_attn.k_proj.bias");
        t.put(Role.V_BIAS, p + "self_attn.v_proj.bias");
        t.put(Role.ROUTER, m + "gate.weight");
        t.put(Role.EXPERT_GATE, m + "experts.${expert}.gate_proj.weight");
        t.put(Role.EXPERT_UP, m + "experts.${expert}.up_proj.weight");
        t.put(Role.EXPERT_DOWN, m + "experts.${expert}.down_proj.weight");
        t.put(Role.SHARED_GATE, m + "shared_expert.gate_proj.weight");
        t.put(Role.SHARED_UP, m + "shared_expert.up_proj.weight");
        t.put(Role.SHARED_DOWN, m + "shared_expert.down_proj.weight");
        t.put(Role.SHARED_EXPERT_GATE, m + "shared_expert_gate.weight");
        int e = cfg.get("num_experts").asInt();
        for (int l = 0; l < layers; l++) {
            specs.add(new LayerSpec(l, true, e, topK, cfg.get("moe_intermediate_size").asInt(), 1,
                    cfg.get("shared_expert_intermediate_size").asInt(), true, 0));
        }
        Family f = new Family("qwen2_moe", List.of("Qwen2MoeForCausalLM"), List.of("qwen2_moe"), t,
                Map.of("num_experts", List.of("num_experts")));
        return new ModelSpec(f, layers, hidden, heads, kv, hidden / heads, cfg.get("vocab_size").asInt(), 1e-5, 1e4, 0,
                false, true, false, false, Routing.softmax(false), specs, DType.BF16, cfg);
    }
}
