package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import dev.moekit.toolkit.testing.TinyOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The checker on the reference checkpoints and on tiny checkpoints broken one way at a time. */
class SpecCheckerTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"mixtral-tiny", "qwen2moe-tiny", "llama-tiny-seed"})
    void referenceCheckpointsAreConsistent(String model) {
        try (Checkpoint c = Checkpoint.open(RefModels.model(model))) {
            assertEquals(List.of(), SpecChecker.checkAll(c, ModelSpec.of(c)));
        }
    }

    /** Writes the tiny mixtral of {@code o} with its tensor list edited by {@code edit}; values 0.01. */
    private Path writeEdited(TinyOptions o, String name, Consumer<List<TensorSpec>> edit, String nanIn) {
        ModelSpec spec = TinyCheckpoints.spec(o);
        List<TensorSpec> plan = new ArrayList<>(TensorLayout.expected(spec).stream().map(TensorLayout.Planned::tensor).toList());
        edit.accept(plan);
        Path out = tmp.resolve(name);
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withMaxShardSize(16 << 10))) {
            for (TensorSpec t : plan) {
                float[] v = new float[Math.toIntExact(t.numel())];
                java.util.Arrays.fill(v, 0.01f);
                if (t.name().equals(nanIn)) {
                    v[7] = Float.NaN;
                    v[9] = Float.NEGATIVE_INFINITY;
                }
                w.write(t.name(), v);
            }
            return w.commit(TinyCheckpoints.config(o));
        }
    }

    private static int indexOf(List<TensorSpec> plan, String name) {
        for (int i = 0; i < plan.size(); i++) {
            if (plan.get(i).name().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no " + name);
    }

    @Test
    void missingTensorIsReported() {
        TinyOptions o = TinyCheckpoints.builder("mixtral");
        String k = TinyCheckpoints.spec(o).name(Role.K, 1);
        Path p = writeEdited(o, "missing", plan -> plan.remove(indexOf(plan, k)), null);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("missing tensor '" + k + "' (K, layer 1)"), SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    @Test
    void wrongShapeAndWrongDtypeAreReported() {
        TinyOptions o = TinyCheckpoints.builder("qwen2_moe");
        ModelSpec s = TinyCheckpoints.spec(o);
        String oProj = s.name(Role.O, 0);
        String gate = s.name(Role.SHARED_EXPERT_GATE, 1);
        Path p = writeEdited(o, "shape", plan -> {
            plan.set(indexOf(plan, oProj), new TensorSpec(oProj, DType.BF16, new long[] {32, 16}));
            plan.set(indexOf(plan, gate), new TensorSpec(gate, DType.F16, new long[] {1, 32}));
        }, null);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("tensor '" + oProj + "' has shape [32, 16], expected [32, 32]",
                    "tensor '" + gate + "' is F16, expected BF16"), SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    @Test
    void extraTensorIsReported() {
        TinyOptions o = TinyCheckpoints.builder("olmoe");
        Path p = writeEdited(o, "extra", plan -> plan.add(new TensorSpec("model.layers.0.mlp.extra.weight", DType.BF16, new long[] {4})), null);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("unexpected tensor 'model.layers.0.mlp.extra.weight' (not declared by the olmoe spec)"),
                    SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    @Test
    void indexDisagreeingWithTensorsIsReported() throws IOException {
        Path p = TinyCheckpoints.write(tmp.resolve("idx"), "deepseek");
        Path index = p.resolve(Checkpoint.INDEX);
        ObjectNode idx = (ObjectNode) Json.STRICT.readTree(index.toFile());
        long size = idx.get("metadata").get("total_size").asLong();
        ((ObjectNode) idx.get("metadata")).put("total_size", size + 2);
        Json.PRETTY.writeValue(index.toFile(), idx);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of(Checkpoint.INDEX + ": metadata total_size " + (size + 2) + " but the tensors hold " + size + " bytes"),
                    SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    @Test
    void nanAndInfAreFoundByTheScan() {
        TinyOptions o = TinyCheckpoints.builder("mixtral");
        String up = TinyCheckpoints.spec(o).name(Role.EXPERT_UP, 1, 5);
        Path p = writeEdited(o, "nan", plan -> { }, up);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of(), SpecChecker.check(c, ModelSpec.of(c)));
            assertEquals(List.of("tensor '" + up + "' has 1 NaN and 1 infinite values (first at element 7)"), SpecChecker.scanNonFinite(c));
        }
    }

    @Test
    void configSayingMoreExpertsThanTensorsHoldIsAnError() throws IOException {
        Path p = TinyCheckpoints.builder("mixtral").experts(6).write(tmp.resolve("six"));
        ObjectNode cfg = (ObjectNode) Json.STRICT.readTree(p.resolve(Checkpoint.CONFIG).toFile());
        cfg.put("num_local_experts", 8);
        Json.PRETTY.writeValue(p.resolve(Checkpoint.CONFIG).toFile(), cfg);
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("num_local_experts says 8 experts for layer 0 but the checkpoint holds 6"), e.getMessage());
            assertTrue(e.getMessage().contains("'model.layers.0.block_sparse_moe.experts.6.w3.weight' is missing"), e.getMessage());
        }
    }

    @Test
    void fusedTensorWithTooFewExpertsIsAnError() throws IOException {
        Path p = TinyCheckpoints.builder("qwen3_moe").experts(6).fused(true).write(tmp.resolve("fused6"));
        ObjectNode cfg = (ObjectNode) Json.STRICT.readTree(p.resolve(Checkpoint.CONFIG).toFile());
        cfg.put("num_experts", 8);
        Json.PRETTY.writeValue(p.resolve(Checkpoint.CONFIG).toFile(), cfg);
        try (Checkpoint c = Checkpoint.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
            assertTrue(e.getMessage().contains("num_experts says 8 experts for layer 0 but tensor 'model.layers.0.mlp.experts.gate_up_proj' has shape [6, 32, 32]"),
                    e.getMessage());
        }
    }

    /** Found by the fuzzer: a scalar router or expert tensor made the count checks index an empty shape. */
    @Test
    void scalarTensorWhereAMatrixBelongsIsAnError() {
        TinyOptions o = TinyCheckpoints.builder("mixtral");
        ModelSpec s = TinyCheckpoints.spec(o);
        for (String n : List.of(s.name(Role.ROUTER, 1), s.name(Role.EXPERT_UP, 0, 0))) {
            Path p = writeEdited(o, "scalar-" + n, plan -> plan.set(indexOf(plan, n), new TensorSpec(n, DType.BF16, new long[0])), null);
            try (Checkpoint c = Checkpoint.open(p)) {
                CheckpointException e = assertThrows(CheckpointException.class, () -> ModelSpec.of(c));
                assertTrue(e.getMessage().contains("tensor '" + n + "' is a scalar (shape [])"), e.getMessage());
            }
        }
    }

    @Test
    void unexpectedTensorNamesAreEscaped() {
        TinyOptions o = TinyCheckpoints.builder("olmoe");
        Path p = writeEdited(o, "esc", plan -> plan.add(new TensorSpec("model.layers.0.\u001b[31mx\u202e", DType.BF16, new long[] {4})), null);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("unexpected tensor 'model.layers.0.\\u001b[31mx\\u202e' (not declared by the olmoe spec)"),
                    SpecChecker.check(c, ModelSpec.of(c)));
        }
    }

    /** A total above 2^64 used to wrap into agreement (2^64 + size read as size); a string read as 0. */
    @Test
    void indexTotalsAreComparedExactly() throws IOException {
        Path p = TinyCheckpoints.write(tmp.resolve("wrap"), "mixtral");
        Path index = p.resolve(Checkpoint.INDEX);
        ObjectNode idx = (ObjectNode) Json.STRICT.readTree(index.toFile());
        long size = idx.get("metadata").get("total_size").asLong();
        java.math.BigInteger wrapped = java.math.BigInteger.ONE.shiftLeft(64).add(java.math.BigInteger.valueOf(size));
        ((ObjectNode) idx.get("metadata")).put("total_size", wrapped);
        ((ObjectNode) idx.get("metadata")).put("total_parameters", "many");
        Json.PRETTY.writeValue(index.toFile(), idx);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of(Checkpoint.INDEX + ": metadata total_size " + wrapped + " but the tensors hold " + size + " bytes",
                    Checkpoint.INDEX + ": metadata total_parameters should be a number, is \"many\""), SpecChecker.check(c, ModelSpec.of(c)));
        }
        ((ObjectNode) idx.get("metadata")).put("total_size", (double) size);
        ((ObjectNode) idx.get("metadata")).remove("total_parameters");
        Json.PRETTY.writeValue(index.toFile(), idx);
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of(), SpecChecker.check(c, ModelSpec.of(c)), "a whole number written as a float agrees");
        }
    }
}
