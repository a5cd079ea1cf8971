package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config keys that change structure: head_dim, sliding windows, MLA without q compression, MoE layer placement. */
class ConfigDialectTest {
    @TempDir
    Path tmp;

    private static ModelSpec reparse(Path dir, Consumer<ObjectNode> edit) throws IOException {
        Path f = dir.resolve(Checkpoint.CONFIG);
        ObjectNode cfg = (ObjectNode) Json.STRICT.readTree(f.toFile());
        edit.accept(cfg);
        Json.PRETTY.writeValue(f.toFile(), cfg);
        try (Checkpoint c = Checkpoint.open(dir)) {
            return ModelSpec.of(c);
        }
    }

    @Test
    void explicitHeadDimWinsOverHiddenByHeads() {
        Path dir = TinyCheckpoints.builder("qwen3_moe").headDim(16).write(tmp.resolve("hd"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(16, s.headDim());
            assertEquals(4 * 16 * 32, c.info(s.name(Role.Q, 0)).numel()); // [heads*head_dim, hidden]
            assertEquals(List.of(), SpecChecker.check(c, s));
        }
    }

    @Test
    void slidingWindowFollowsUseFlagAndLayerTypes() throws IOException {
        Path dir = TinyCheckpoints.write(tmp.resolve("mistral"), "mistral");
        assertEquals(16, reparse(dir, c -> c.put("sliding_window", 16)).slidingWindow());
        assertEquals(0, reparse(dir, c -> c.putNull("sliding_window")).slidingWindow());
        assertEquals(0, reparse(dir, c -> {
            c.put("sliding_window", 16);
            c.putArray("layer_types").add("full_attention").add("full_attention");
        }).slidingWindow());
        assertEquals(16, reparse(dir, c -> {
            c.put("sliding_window", 16);
            c.putArray("layer_types").add("sliding_attention").add("full_attention");
        }).slidingWindow());
        Path qwen = TinyCheckpoints.write(tmp.resolve("qwen2"), "qwen2");
        assertEquals(0, reparse(qwen, c -> {
            c.put("sliding_window", 16);
            c.put("use_sliding_window", false);
        }).slidingWindow());
    }

    @Test
    void deepseekV2LiteStyleUsesPlainQProjAndSoftmax() {
        Path dir = TinyCheckpoints.builder("deepseek_v3").mla(0, 16, 8, 4, 8).scoring("softmax").correctionBias(false)
                .renormalize(false).groups(1, 1).write(tmp.resolve("v2lite"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(new ModelSpec.Mla(0, 16, 8, 4, 8), s.mla());
            assertTrue(c.has(s.name(Role.Q, 0)));
            assertFalse(c.has(s.name(Role.Q_A, 0)));
            assertEquals(List.of(4L * 12, 32L), List.of(c.info(s.name(Role.Q, 1)).shape()[0], c.info(s.name(Role.Q, 1)).shape()[1]));
            assertEquals(List.of(16L + 4, 32L), List.of(c.info(s.name(Role.KV_A, 1)).shape()[0], c.info(s.name(Role.KV_A, 1)).shape()[1]));
            assertEquals(4L * (8 + 8) * 16, c.info(s.name(Role.KV_B, 1)).numel());
            assertEquals(Routing.softmax(false), s.routing());
            assertEquals(List.of(), SpecChecker.checkAll(c, s));
        }
    }

    @Test
    void qwenMlpOnlyLayersAndSparseStepPlaceDenseLayers() throws IOException {
        Path dir = TinyCheckpoints.builder("qwen2_moe").layers(4).firstDense(1).write(tmp.resolve("qmix"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(List.of(false, true, true, true), s.layerSpecs().stream().map(LayerSpec::moe).toList());
            assertEquals(List.of(), SpecChecker.check(c, s));
        }
        // decoder_sparse_step 2 makes layers 1 and 3 MoE; layer 2 then lacks its dense MLP tensors
        CheckpointException e = assertThrows(CheckpointException.class, () -> reparse(dir, c -> c.put("decoder_sparse_step", 2)));
        assertTrue(e.getMessage().contains("makes layer 2 dense but tensor 'model.layers.2.mlp.up_proj.weight' is missing"), e.getMessage());
    }

    @Test
    void deepseekMoeLayerFreqSkipsLayers() throws IOException {
        Path dir = TinyCheckpoints.builder("deepseek").layers(3).write(tmp.resolve("ds"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> reparse(dir, c -> c.put("moe_layer_freq", 2)));
        assertTrue(e.getMessage().contains("layer 1 dense"), e.getMessage());
    }

    @Test
    void numericKeyOfWrongTypeIsNamed() {
        Path dir = TinyCheckpoints.write(tmp.resolve("bad"), "olmoe");
        CheckpointException e = assertThrows(CheckpointException.class, () -> reparse(dir, c -> c.put("num_experts_per_tok", "two")));
        assertTrue(e.getMessage().contains("config.json: key 'num_experts_per_tok' should be an integer"), e.getMessage());
    }
}
