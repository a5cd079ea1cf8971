package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Types and ranges of config values, named with the key and the value as read (escaped). */
class ConfigValuesTest {
    @TempDir
    Path tmp;

    private CheckpointException rejected(String model, Consumer<ObjectNode> edit, String... parts) {
        Path p = RefModels.withConfig(model, tmp, edit);
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().startsWith(p.resolve(Checkpoint.CONFIG) + ": "), e.getMessage());
            assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
            for (String s : parts) {
                assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
            }
            return e;
        }
    }

    private CheckpointException rejected(Consumer<ObjectNode> edit, String... parts) {
        return rejected("mixtral-tiny", edit, parts);
    }

    @Test
    void normEpsMustBePositiveAndFinite() {
        rejected(c -> c.put("rms_norm_eps", 0), "key 'rms_norm_eps' must be a finite number greater than 0, is 0");
        rejected(c -> c.put("rms_norm_eps", -1e-5), "key 'rms_norm_eps' must be a finite number greater than 0, is -1.0E-5");
        rejected(c -> c.put("rms_norm_eps", "1e-5"), "key 'rms_norm_eps' should be a number, is \"1e-5\"");
        rejected(c -> c.put("rms_norm_eps", true), "key 'rms_norm_eps' should be a number, is true");
    }

    @Test
    void ropeThetaMustBePositiveAndFinite() {
        rejected(c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", 0.0),
                "key 'rope_parameters.rope_theta' must be a finite number greater than 0, is 0.0");
        rejected(c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", -10000),
                "key 'rope_parameters.rope_theta' must be a finite number greater than 0, is -10000");
    }

    @Test
    void hugeLiteralIsNotFinite() throws IOException {
        Path p = RefModels.withConfig("qwen2moe-tiny", tmp, c -> { });
        Path cfg = p.resolve(Checkpoint.CONFIG);
        Files.writeString(cfg, Files.readString(cfg).replace("\"rope_theta\" : 10000.0", "\"rope_theta\" : 1e400"));
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("key 'rope_theta' must be a finite number greater than 0"), e.getMessage());
        }
    }

    @Test
    void integersAreIntegers() {
        rejected(c -> c.put("hidden_size", "abc"), "key 'hidden_size' should be an integer, is \"abc\"");
        rejected(c -> c.put("hidden_size", 64.5), "key 'hidden_size' should be an integer, is 64.5");
        rejected(c -> c.put("hidden_size", 256.0), "key 'hidden_size' should be an integer, is 256.0");
        rejected(c -> c.put("hidden_size", true), "key 'hidden_size' should be an integer, is true");
        rejected(c -> c.put("num_local_experts", false), "key 'num_local_experts' should be an integer, is false");
        rejected(c -> c.putArray("hidden_size").add(256), "key 'hidden_size' should be an integer, is [256]");
        rejected(c -> c.put("vocab_size", -8192), "key 'vocab_size' must be positive, is -8192");
    }

    @Test
    void booleansAreBooleans() {
        rejected(c -> c.put("tie_word_embeddings", "yes"), "key 'tie_word_embeddings' should be true or false, is \"yes\"");
        rejected(c -> c.put("tie_word_embeddings", 1), "key 'tie_word_embeddings' should be true or false, is 1");
        rejected("qwen2moe-tiny", c -> c.put("use_sliding_window", 0), "key 'use_sliding_window' should be true or false, is 0");
        rejected("qwen2moe-tiny", c -> c.put("norm_topk_prob", "false"), "key 'norm_topk_prob' should be true or false, is \"false\"");
    }

    @Test
    void stringsAreStrings() {
        rejected(c -> c.put("dtype", 16), "key 'dtype' should be a string, is 16");
        rejected(c -> c.put("dtype", "bfloat17"), "key 'dtype' names unknown dtype 'bfloat17'");
        rejected(c -> c.put("architectures", "MixtralForCausalLM"), "key 'architectures' should be a list of class names, is \"MixtralForCausalLM\"");
        rejected(c -> c.putArray("layer_types").add(1), "key 'layer_types' should list strings, has 1");
    }

    @Test
    void rangesOfOptionalSizes() {
        rejected(c -> c.put("head_dim", -32), "key 'head_dim' must be positive, is -32");
        rejected(c -> c.put("head_dim", 0), "key 'head_dim' must be positive, is 0");
        rejected(c -> c.put("sliding_window", -1), "key 'sliding_window' must be 0 or more, is -1");
        rejected(c -> c.put("num_local_experts", -1), "key 'num_local_experts' must be 0 or more, is -1");
        rejected("qwen2moe-tiny", c -> c.put("decoder_sparse_step", -2), "key 'decoder_sparse_step' must be 0 or more, is -2");
        rejected("qwen2moe-tiny", c -> c.put("shared_expert_intermediate_size", -512), "key 'shared_expert_intermediate_size' must be 0 or more");
    }

    @Test
    void routingScalingAndGroups() {
        Path v3 = TinyCheckpoints.write(tmp.resolve("v3"), "deepseek_v3");
        reject(v3, c -> c.put("routed_scaling_factor", 0), "key 'routed_scaling_factor' must be a finite number greater than 0, is 0");
        reject(v3, c -> c.put("routed_scaling_factor", "2.5"), "key 'routed_scaling_factor' should be a number");
        reject(v3, c -> c.put("n_group", -1), "key 'n_group' must be 0 or more, is -1");
        reject(v3, c -> {
            c.put("n_group", 2_000_000_000);
            c.put("topk_group", 1);
        }, "key 'n_group' = 2000000000 groups exceed the 8 experts of layer");
        reject(v3, c -> c.put("q_lora_rank", -1), "key 'q_lora_rank' must be 0 or more, is -1");
        reject(v3, c -> c.put("kv_lora_rank", 0), "key 'kv_lora_rank' must be positive, is 0");
        reject(v3, c -> c.put("scoring_func", 1), "key 'scoring_func' should be a string, is 1");
    }

    private static void reject(Path dir, Consumer<ObjectNode> edit, String part) {
        Path cfg = dir.resolve(Checkpoint.CONFIG);
        try {
            String orig = Files.readString(cfg);
            ObjectNode n = (ObjectNode) dev.moekit.toolkit.io.Json.STRICT.readTree(orig);
            edit.accept(n);
            dev.moekit.toolkit.io.Json.PRETTY.writeValue(cfg.toFile(), n);
            try (Checkpoint c = Checkpoint.open(dir)) {
                CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
                assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
            } finally {
                Files.writeString(cfg, orig);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void valuesInMessagesAreEscapedAndCut() {
        CheckpointException e = rejected(c -> c.put("hidden_size", "\u001b[31m\u202e" + "z".repeat(5000)), "key 'hidden_size' should be an integer");
        assertTrue(e.getMessage().chars().noneMatch(ch -> ch == 0x1b || ch == 0x202e), e.getMessage());
        assertTrue(e.getMessage().contains("\\u202e") && e.getMessage().contains(" chars)") && e.getMessage().length() < 1000, e.getMessage());
        CheckpointException d = rejected(c -> c.put("dtype", "bf16\u009b2J"), "names unknown dtype 'bf16\\u009b2J'");
        assertTrue(d.getMessage().indexOf(0x9b) < 0, d.getMessage());
        CheckpointException a = rejected(c -> {
            c.putArray("architectures").add("Evil\u001b]0;pwned\u0007ForCausalLM");
            c.put("model_type", "\u202eevil");
        }, "architecture 'Evil\\u001b]0;pwned\\u0007ForCausalLM' / model_type '\\u202eevil'");
        assertTrue(a.getMessage().chars().noneMatch(ch -> ch == 0x1b || ch == 7 || ch == 0x202e), a.getMessage());
    }
}
