package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class FamilyRegistryTest {
    @Test
    void standardRegistryHasEveryFamily() {
        assertEquals(List.of("llama", "mistral", "qwen2", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek",
                "deepseek_v3", "phimoe", "moekit_bam"), FamilyRegistry.standard().names());
    }

    @Test
    void sameFileListedTwiceFailsAtLoad() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> FamilyRegistry.load("families/test-duplicate-index.json"));
        assertTrue(e.getMessage().contains("mixtral"), e.getMessage());
    }

    @Test
    void architectureClaimedByTwoFamiliesFailsAtLoad() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> FamilyRegistry.load("families/test-dup-arch-index.json"));
        assertTrue(e.getMessage().contains("architecture 'MixtralForCausalLM' is claimed by both families mixtral and mixtral_copy"),
                e.getMessage());
    }

    @Test
    void modelTypeClaimedByTwoFamiliesFailsAtLoad() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> FamilyRegistry.load("families/test-dup-type-index.json"));
        assertTrue(e.getMessage().contains("model_type 'llama' is claimed by both families llama and llama_copy"), e.getMessage());
    }

    @Test
    void fusedLayoutReplacesPerExpertRoles() {
        Family f = FamilyRegistry.standard().byName("mixtral").withLayout(true);
        assertEquals("model.layers.4.mlp.experts.gate_up_proj", f.name(Role.EXPERTS_GATE_UP, 4, -1));
        assertEquals("model.layers.4.mlp.gate.weight", f.name(Role.ROUTER, 4, -1));
        assertTrue(!f.has(Role.EXPERT_UP));
    }

    @Test
    void deepseekV3HasLatentAttentionRoles() {
        Family f = FamilyRegistry.standard().byName("deepseek_v3");
        assertEquals("model.layers.1.self_attn.kv_a_proj_with_mqa.weight", f.name(Role.KV_A, 1, -1));
        assertEquals("model.layers.1.mlp.gate.e_score_correction_bias", f.name(Role.ROUTER_CORRECTION_BIAS, 1, -1));
        assertEquals("model.layers.1.mlp.shared_experts.down_proj.weight", f.name(Role.SHARED_DOWN, 1, -1));
        assertEquals(Family.Attention.MLA, f.traits().attention());
    }
}
