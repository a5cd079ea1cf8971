package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Specs of the shared reference checkpoints, as their README describes them. */
class ModelSpecReferenceTest {
    @TempDir
    Path tmp;

    @Test
    void mixtralTinyIn5xDialect() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("mixtral", s.family().name());
            assertEquals(6, s.layers());
            assertEquals(256, s.hidden());
            assertEquals(8, s.heads());
            assertEquals(4, s.kvHeads());
            assertEquals(32, s.headDim()); // head_dim null -> hidden / heads
            assertEquals(8192, s.vocab());
            assertEquals(10000.0, s.ropeTheta()); // from rope_parameters.rope_theta
            assertEquals(1e-5, s.normEps());
            assertEquals(0, s.slidingWindow());
            assertEquals(DType.BF16, s.dtype()); // from "dtype"
            assertFalse(s.tiedEmbeddings());
            assertFalse(s.qkvBias());
            assertFalse(s.fusedExperts());
            assertEquals(Routing.softmax(true), s.routing());
            for (LayerSpec l : s.layerSpecs()) {
                assertTrue(l.moe());
                assertEquals(8, l.experts());
                assertEquals(2, l.topK());
                assertEquals(512, l.expertFfn());
                assertEquals(0, l.sharedExperts());
            }
            assertEquals("model.layers.3.block_sparse_moe.experts.5.w3.weight", s.name(Role.EXPERT_UP, 3, 5));
        }
    }

    @Test
    void qwen2MoeTinyIn4xDialect() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("qwen2moe-tiny"))) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("qwen2_moe", s.family().name());
            assertEquals(6, s.layers());
            assertEquals(10000.0, s.ropeTheta()); // from rope_theta
            assertEquals(DType.BF16, s.dtype()); // from torch_dtype
            assertEquals(0, s.slidingWindow()); // use_sliding_window false
            assertTrue(s.qkvBias());
            assertFalse(s.qkNorm());
            assertEquals(Routing.Scoring.SOFTMAX, s.routing().scoring());
            assertFalse(s.routing().renormalize()); // norm_topk_prob false
            for (LayerSpec l : s.layerSpecs()) {
                assertTrue(l.moe());
                assertEquals(32, l.experts());
                assertEquals(4, l.topK());
                assertEquals(128, l.expertFfn());
                assertEquals(1, l.sharedExperts());
                assertEquals(512, l.sharedFfn());
                assertTrue(l.sharedExpertGate());
            }
        }
    }

    @Test
    void llamaSeedIsDenseWithTiedEmbeddings() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("llama-tiny-seed"))) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("llama", s.family().name());
            assertFalse(s.isMoe());
            assertTrue(s.tiedEmbeddings());
            assertNull(s.routing());
            assertEquals(512, s.layer(5).ffn());
            ModelWeights w = new ModelWeights(c, s);
            assertArrayEquals(w.get(Role.EMBED), w.get(Role.LM_HEAD));
            assertEquals(8192 * 256, w.get(Role.LM_HEAD).length);
        }
    }

    @Test
    void weightsByRoleHaveHfShapes() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("qwen2moe-tiny"))) {
            ModelWeights w = ModelWeights.of(c);
            assertEquals(128 * 256, w.expert(Role.EXPERT_GATE, 2, 31).length);
            assertEquals(256 * 128, w.expert(Role.EXPERT_DOWN, 2, 31).length);
            assertEquals(256, w.get(Role.SHARED_EXPERT_GATE, 0).length);
            assertEquals(256, w.get(Role.Q_BIAS, 0).length);
            assertTrue(w.has(Role.K_BIAS, 5));
            assertFalse(w.has(Role.Q_NORM, 0));
            assertThrows(IllegalArgumentException.class, () -> w.expert(Role.EXPERT_UP, 0, 32));
        }
    }

    @Test
    void perLayerExpertListIsAccepted() {
        Path p = RefModels.withConfig("mixtral-tiny", tmp, cfg -> {
            var arr = cfg.putArray("num_local_experts");
            for (int i = 0; i < 6; i++) {
                arr.add(8);
            }
        });
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(8, ModelSpec.of(c).layer(4).experts());
        }
    }

    @Test
    void expertCountDisagreeingWithTensorsNamesKeyAndTensor() {
        Path p = RefModels.withConfig("mixtral-tiny", tmp, cfg -> {
            var arr = cfg.putArray("num_local_experts");
            for (int i = 0; i < 6; i++) {
                arr.add(i == 2 ? 6 : 8);
            }
        });
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("num_local_experts says 6 experts for layer 2"), e.getMessage());
            assertTrue(e.getMessage().contains("model.layers.2.block_sparse_moe.experts.6.w3.weight"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    @Test
    void missingRequiredKeyNamesFileKeyAndSynonyms() {
        Path p = RefModels.withConfig("mixtral-tiny", tmp, cfg -> cfg.remove("num_local_experts"));
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("config.json: missing required key 'num_local_experts'"), e.getMessage());
            assertTrue(e.getMessage().contains("num_experts"), e.getMessage());
        }
    }

    @Test
    void unknownArchitectureListsKnownOnes() {
        Path p = RefModels.withConfig("llama-tiny-seed", tmp, cfg -> {
            cfg.putArray("architectures").add("FooForCausalLM");
            cfg.put("model_type", "foo");
        });
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("'FooForCausalLM'"), e.getMessage());
            assertTrue(e.getMessage().contains("MixtralForCausalLM"), e.getMessage());
            assertTrue(e.getMessage().contains("DeepseekV3ForCausalLM"), e.getMessage());
        }
    }

    @Test
    void modelTypeIsTheFallbackForUnknownArchitectures() {
        Path p = RefModels.withConfig("llama-tiny-seed", tmp, cfg -> cfg.putArray("architectures").add("LlamaForSomethingElse"));
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals("llama", ModelSpec.of(c).family().name());
        }
    }
}
