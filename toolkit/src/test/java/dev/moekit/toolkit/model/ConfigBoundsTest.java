package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sizes in config.json are bounded by the tensors before anything proportional to them is built: mutated copies of
 * mixtral-tiny (6 layers, hidden 256, 8 heads of 32, 4 KV heads, vocab 8192, 8 experts of width 512, top-2). Before,
 * 2e9 layers ran out of memory and huge widths parsed, to overflow later when the tensors were planned.
 */
class ConfigBoundsTest {
    @TempDir
    Path tmp;

    private CheckpointException rejected(Consumer<ObjectNode> edit, String... parts) {
        Path p = RefModels.withConfig("mixtral-tiny", tmp, edit);
        CheckpointException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (Checkpoint c = Checkpoint.open(p)) {
                return assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            }
        });
        assertTrue(e.getMessage().startsWith(p.resolve(Checkpoint.CONFIG) + ": "), e.getMessage());
        assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
        for (String s : parts) {
            assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
        }
        return e;
    }

    private static final String LARGEST = "is larger than any tensor of the checkpoint can hold (largest dimension of a tensor with data: 8192)";

    @Test
    void unchangedConfigParses() {
        Path p = RefModels.withConfig("mixtral-tiny", tmp, c -> { });
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of(), SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    @Test
    void layersBeyondTheLayerIndicesInTensorNames() {
        rejected(c -> c.put("num_hidden_layers", 2_000_000_000),
                "key 'num_hidden_layers' says 2000000000 layers but the tensor names hold only 6 layer indices");
        rejected(c -> c.put("num_hidden_layers", 7), "says 7 layers but the tensor names hold only 6 layer indices");
        rejected(c -> c.put("num_hidden_layers", Integer.MAX_VALUE), "says 2147483647 layers");
    }

    @Test
    void layersMustBePositiveInts() {
        rejected(c -> c.put("num_hidden_layers", 0), "key 'num_hidden_layers' must be positive, is 0");
        rejected(c -> c.put("num_hidden_layers", 4_294_967_296L), "key 'num_hidden_layers' should be an integer that fits 32 bits, is 4294967296");
    }

    @Test
    void expertsBeyondTheTensors() {
        rejected(c -> c.put("num_local_experts", 2_000_000_000), "key 'num_local_experts' = 2000000000 " + LARGEST);
        rejected(c -> {
            var a = c.putArray("num_local_experts");
            for (int i = 0; i < 6; i++) {
                a.add(i == 4 ? Integer.MAX_VALUE : 8);
            }
        }, "key 'num_local_experts' = 2147483647 " + LARGEST);
        rejected(c -> c.put("num_local_experts", 9), "num_local_experts says 9 experts for layer 0 but the checkpoint holds 8");
    }

    @Test
    void topKWithinTheExperts() {
        rejected(c -> c.put("num_experts_per_tok", 9), "key 'num_experts_per_tok' = 9 is not within 1..8 experts of layer 0");
        rejected(c -> c.put("num_experts_per_tok", 2_000_000_000), "= 2000000000 is not within 1..8");
        rejected(c -> c.put("num_experts_per_tok", 0), "= 0 is not within 1..8");
    }

    @Test
    void hiddenAndVocabBoundedByTheTensors() {
        rejected(c -> c.put("hidden_size", 2_000_000_000), "key 'hidden_size' = 2000000000 " + LARGEST);
        rejected(c -> c.put("vocab_size", 2_000_000_000), "key 'vocab_size' = 2000000000 " + LARGEST);
    }

    @Test
    void headsAndHeadDimBoundedAndConsistentWithQAndK() {
        rejected(c -> {
            c.put("num_attention_heads", 1 << 30);
            c.put("num_key_value_heads", 1 << 30);
            c.put("head_dim", 1);
        }, "key 'num_attention_heads' = 1073741824 " + LARGEST);
        rejected(c -> c.put("head_dim", 2_000_000_000), "key 'head_dim' = 2000000000 " + LARGEST);
        rejected(c -> c.put("head_dim", 4096), "num_attention_heads 8 x head_dim 4096 = 32768 " + LARGEST);
        rejected(c -> c.put("head_dim", 64),
                "num_attention_heads 8 x head_dim 64 = 512 but tensor 'model.layers.0.self_attn.q_proj.weight' has shape [256, 256]");
        rejected(c -> c.put("num_key_value_heads", 8),
                "num_key_value_heads 8 x head_dim 32 = 256 but tensor 'model.layers.0.self_attn.k_proj.weight' has shape [128, 256]");
        rejected(c -> c.put("num_key_value_heads", 2_000_000_000), "num_attention_heads 8 is not a multiple of num_key_value_heads 2000000000");
    }

    @Test
    void intermediateBoundedByTheTensors() {
        rejected(c -> c.put("intermediate_size", 2_000_000_000), "key 'intermediate_size' = 2000000000 " + LARGEST);
        rejected(c -> c.put("intermediate_size", 1024), "intermediate_size says 1024 but tensor 'model.layers.0.block_sparse_moe.experts.0.w3.weight'");
    }
}
