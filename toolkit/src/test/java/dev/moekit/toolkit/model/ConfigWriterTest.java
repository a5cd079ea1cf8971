package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigWriterTest {
    static final Path MODELS = Path.of(System.getProperty("moekit.shared", "../shared"), "models");

    private static ModelSpec spec(String model) {
        try (Checkpoint c = Checkpoint.open(MODELS.resolve(model))) {
            return ModelSpec.of(c);
        }
    }

    @Test
    void writesEachFamilysOwnSpellingOfALogicalKey() {
        ObjectNode mixtral = ConfigWriter.of(spec("mixtral-tiny")).set("num_experts", 6).set("expert_ffn", 128).build();
        assertEquals(6, mixtral.get("num_local_experts").asInt());
        assertFalse(mixtral.has("num_experts"), "no second spelling is added");
        assertEquals(128, mixtral.get("intermediate_size").asInt());
        ObjectNode qwen = ConfigWriter.of(spec("qwen2moe-tiny")).set("num_experts", 6).set("expert_ffn", 64).build();
        assertEquals(6, qwen.get("num_experts").asInt());
        assertEquals(64, qwen.get("moe_intermediate_size").asInt());
        assertEquals(spec("qwen2moe-tiny").config().get("intermediate_size"), qwen.get("intermediate_size"), "the dense width is another key");
        assertThrows(IllegalArgumentException.class, () -> ConfigWriter.of(spec("llama-tiny-seed")).set("num_experts", 4));
    }

    @Test
    void theResultParsesBackToTheEditedStructure() {
        ModelSpec s = spec("mixtral-tiny");
        ObjectNode c = ConfigWriter.of(s).set("num_experts", 5).build();
        ModelSpec back = ModelSpec.fromConfig(c, new TensorFacts(s.fusedExperts(), s.present(), s.dtype()));
        assertTrue(back.layerSpecs().stream().allMatch(l -> l.experts() == 5));
        assertEquals(s.config().get("num_local_experts").asInt(), 8, "the input config is untouched");
    }

    @Test
    void anExpertWidthNeverGoesIntoTheDenseWidthsKey() {
        // a dense Llama converted to Qwen2-MoE already has intermediate_size (the dense width); Qwen2-MoE's expert width
        // falls back to that key when moe_intermediate_size is absent, but transformers sizes the experts from the latter
        ModelSpec llama = spec("llama-tiny-seed");
        ObjectNode c = ConfigWriter.convert(llama, FamilyRegistry.standard().byName("qwen2_moe"))
                .set("num_experts", 4).set("expert_ffn", 96).build();
        assertEquals(96, c.get("moe_intermediate_size").asInt());
        assertEquals(llama.layer(0).ffn(), c.get("intermediate_size").asInt());
    }

    @Test
    void convertsADenseLlamaConfigIntoAMixtralOne() {
        ModelSpec llama = spec("llama-tiny-seed");
        Family mixtral = FamilyRegistry.standard().byName("mixtral");
        ObjectNode c = ConfigWriter.convert(llama, mixtral).set("num_experts", 4).set("top_k", 2)
                .set("expert_ffn", llama.layer(0).ffn()).build();
        assertEquals("MixtralForCausalLM", c.get("architectures").get(0).asText());
        assertEquals("mixtral", c.get("model_type").asText());
        ModelSpec m = ModelSpec.fromConfig(c, new TensorFacts(false, llama.present(), llama.dtype()));
        assertEquals(llama.layers(), m.layers());
        assertEquals(llama.hidden(), m.hidden());
        assertEquals(llama.kvHeads(), m.kvHeads());
        assertEquals(llama.ropeTheta(), m.ropeTheta());
        assertEquals(llama.normEps(), m.normEps());
        assertTrue(m.layerSpecs().stream().allMatch(l -> l.moe() && l.experts() == 4 && l.topK() == 2 && l.expertFfn() == llama.layer(0).ffn()));
        if (llama.config().has("bos_token_id")) {
            assertEquals(llama.config().get("bos_token_id"), c.get("bos_token_id"), "non-structural keys are kept");
        }
    }
}
