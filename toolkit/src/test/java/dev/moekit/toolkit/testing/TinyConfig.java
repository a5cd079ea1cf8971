package dev.moekit.toolkit.testing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.FamilyRegistry;
import java.util.List;

/**
 * The config.json of a tiny checkpoint, spelled with each logical key's first synonym in the family file (its own
 * dialect); the transformers 5.x dialect moves {@code rope_theta} into {@code rope_parameters} and writes
 * {@code dtype} instead of {@code torch_dtype}.
 */
final class TinyConfig {
    private final Family f;
    private final ObjectNode n = Json.PRETTY.createObjectNode();

    private TinyConfig(Family f) {
        this.f = f;
    }

    static ObjectNode of(TinyOptions o) {
        Family f = FamilyRegistry.standard().byName(o.family);
        TinyConfig c = new TinyConfig(f);
        ObjectNode n = c.n;
        n.putArray("architectures").add(f.architectures().getFirst());
        n.put("model_type", f.modelTypes().getFirst());
        c.put("layers", o.layers);
        c.put("hidden", o.hidden);
        c.put("heads", o.heads);
        c.put("kv_heads", o.kvHeads);
        c.put("vocab", o.vocab);
        if (o.headDim > 0) {
            c.put("head_dim", o.headDim);
        }
        c.put("norm_eps", 1e-5);
        n.put("hidden_act", "silu");
        n.put("max_position_embeddings", 128);
        n.put("tie_word_embeddings", o.tiedEmbeddings);
        n.put("bos_token_id", 1);
        n.put("eos_token_id", 2);
        if (o.transformers5) {
            ObjectNode rope = n.putObject("rope_parameters");
            rope.put("rope_theta", 10000.0);
            rope.put("rope_type", "default");
            n.put("dtype", o.dtype.torchName());
            n.put("transformers_version", "5.0.0");
        } else {
            n.put("rope_theta", 10000.0);
            n.put("torch_dtype", o.dtype.torchName());
            n.put("transformers_version", "4.57.0");
        }
        if (f.configKeys().containsKey("ffn")) {
            c.put("ffn", o.ffn);
        }
        if (f.traits().moe()) {
            c.moe(o);
        }
        if (f.traits().attention() == Family.Attention.MLA) {
            if (o.qLoraRank > 0) {
                c.put("q_lora_rank", o.qLoraRank);
            } else {
                n.putNull("q_lora_rank");
            }
            c.put("kv_lora_rank", o.kvLoraRank);
            c.put("qk_nope_head_dim", o.qkNopeHeadDim);
            c.put("qk_rope_head_dim", o.qkRopeHeadDim);
            c.put("v_head_dim", o.vHeadDim);
        }
        n.put("attention_bias", o.qkvBias);
        return n;
    }

    private void moe(TinyOptions o) {
        if (o.perLayerExperts != null) {
            ArrayNode a = n.putArray(key("num_experts"));
            for (int x : o.perLayerExperts) {
                a.add(x);
            }
        } else {
            put("num_experts", o.experts);
        }
        put("top_k", o.topK);
        put("expert_ffn", o.expertFfn);
        if (known("attention_experts")) {      // moekit_bam: two Expert-KV attention experts per layer
            put("attention_experts", 2);
        }
        put("renormalize", o.renormalize);
        if (o.scoring != null) {
            put("scoring", o.scoring);
        }
        if (known("groups")) {
            put("groups", o.groups);
            put("topk_groups", o.topkGroups);
        }
        if (known("scaling")) {
            put("scaling", 1.0);
        }
        if (known("shared_ffn")) {
            put("shared_ffn", o.sharedExperts > 0 ? (o.sharedFfn > 0 ? o.sharedFfn : o.sharedExperts * o.expertFfn) : 0);
        } else if (known("shared_experts")) {
            put("shared_experts", o.sharedExperts);
        }
        if (known("first_dense")) {
            put("first_dense", o.firstDense);
            put("moe_layer_freq", 1);
        } else if (known("mlp_only_layers")) {
            ArrayNode a = n.putArray(key("mlp_only_layers"));
            for (int l = 0; l < o.firstDense; l++) {
                a.add(l);
            }
            put("sparse_step", 1);
        } else if (o.firstDense > 0) {
            throw new IllegalArgumentException("family " + f.name() + " has no dense layers");
        }
    }

    private boolean known(String logical) {
        List<String> k = f.configKeys().get(logical);
        return k != null && !k.isEmpty();
    }

    private String key(String logical) {
        if (!known(logical)) {
            throw new IllegalArgumentException("family " + f.name() + " has no config key for '" + logical + "'");
        }
        return f.configKeys().get(logical).getFirst();
    }

    private void put(String logical, Object v) {
        if (v == null || !known(logical)) {
            return;
        }
        String k = key(logical);
        switch (v) {
            case Integer i -> n.put(k, i);
            case Double d -> n.put(k, d);
            case Boolean b -> n.put(k, b);
            default -> n.put(k, v.toString());
        }
    }
}
