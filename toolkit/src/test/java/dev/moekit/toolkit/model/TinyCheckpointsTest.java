package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tiny checkpoints of every family parse back to the spec they were written from and pass the checker. */
class TinyCheckpointsTest {
    @TempDir
    Path tmp;

    static List<String> families() {
        return FamilyRegistry.standard().names();
    }

    /** MoE families transformers 5 stores fused (moekit_bam is written per expert only). */
    static List<String> fusedFamilies() {
        return FamilyRegistry.standard().families().stream().filter(f -> f.traits().moe() && f.supportsFused()).map(Family::name).toList();
    }

    @ParameterizedTest
    @MethodSource("families")
    void everyFamilyParsesAndPassesTheChecker(String family) {
        Path dir = TinyCheckpoints.write(tmp.resolve(family), family);
        assertTrue(Files.isRegularFile(dir.resolve(Checkpoint.INDEX)), "several shards and an index");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.shards().size() > 1);
            ModelSpec s = ModelSpec.of(c);
            assertEquals(family, s.family().name());
            assertEquals(2, s.layers());
            assertEquals(32, s.hidden());
            assertEquals(4, s.heads());
            assertEquals(2, s.kvHeads());
            assertEquals(64, s.vocab());
            assertEquals(DType.BF16, s.dtype());
            assertFalse(s.fusedExperts());
            assertEquals(TinyCheckpoints.spec(TinyCheckpoints.builder(family)).layerSpecs(), s.layerSpecs());
            LayerSpec last = s.layer(1);
            assertEquals(s.family().traits().moe(), last.moe());
            if (last.moe()) {
                assertEquals(8, last.experts());
                assertEquals(2, last.topK());
                assertEquals(16, last.expertFfn());
            }
            assertEquals(List.of(), SpecChecker.checkAll(c, s));
        }
    }

    @ParameterizedTest
    @MethodSource("fusedFamilies")
    void fusedLayoutReadsTheSameExpertsAsPerExpert(String family) {
        Path per = TinyCheckpoints.builder(family).seed(3).write(tmp.resolve("per"));
        Path fused = TinyCheckpoints.builder(family).seed(3).fused(true).transformers5(true).write(tmp.resolve("fused"));
        try (Checkpoint a = Checkpoint.open(per); Checkpoint b = Checkpoint.open(fused)) {
            ModelWeights wa = ModelWeights.of(a);
            ModelWeights wb = ModelWeights.of(b);
            assertFalse(wa.spec().fusedExperts());
            assertTrue(wb.spec().fusedExperts());
            assertEquals(List.of(), SpecChecker.checkAll(b, wb.spec()));
            assertTrue(b.has(wb.spec().name(Role.EXPERTS_GATE_UP, 1)));
            for (int e = 0; e < 8; e++) {
                for (Role r : List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN)) {
                    float[] x = wa.expert(r, 1, e);
                    assertArrayEquals(x, wb.expert(r, 1, e), family + " " + r + " expert " + e);
                    assertEquals(16 * 32, x.length);
                }
            }
            assertArrayEquals(wa.get(Role.ROUTER, 1), wb.get(Role.ROUTER, 1));
            assertFalse(java.util.Arrays.equals(wa.expert(Role.EXPERT_GATE, 1, 0), wa.expert(Role.EXPERT_UP, 1, 0)));
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherValues() throws IOException {
        Path a = TinyCheckpoints.builder("qwen2_moe").seed(5).write(tmp.resolve("a"));
        Path b = TinyCheckpoints.builder("qwen2_moe").seed(5).write(tmp.resolve("b"));
        Path c = TinyCheckpoints.builder("qwen2_moe").seed(6).write(tmp.resolve("c"));
        try (var s = Files.list(a)) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList()) {
                assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(b.resolve(p.getFileName())));
            }
        }
        try (Checkpoint x = Checkpoint.open(a); Checkpoint y = Checkpoint.open(c)) {
            String q = ModelSpec.of(x).name(Role.Q, 0);
            assertFalse(java.util.Arrays.equals(x.floats(q), y.floats(q)));
            float[] norm = x.floats(ModelSpec.of(x).name(Role.INPUT_NORM, 0));
            for (float v : norm) {
                assertEquals(1f, v);
            }
            float[] w = x.floats(q);
            double sq = 0;
            for (float v : w) {
                sq += v * v;
            }
            assertEquals(0.02, Math.sqrt(sq / w.length), 0.004);
        }
    }

    @Test
    void transformers5DialectAndPerLayerExpertCounts() {
        Path dir = TinyCheckpoints.builder("mixtral").layers(3).perLayerExperts(8, 6, 4).transformers5(true)
                .dtype(DType.F32).write(tmp.resolve("stun"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.config().has("rope_parameters"));
            assertFalse(c.config().has("rope_theta"));
            assertTrue(c.config().get("num_local_experts").isArray());
            ModelSpec s = ModelSpec.of(c);
            assertEquals(DType.F32, s.dtype());
            assertEquals(List.of(8, 6, 4), s.layerSpecs().stream().map(LayerSpec::experts).toList());
            assertEquals(List.of(), SpecChecker.checkAll(c, s));
        }
    }

    @Test
    void deepseekV3HasDenseFirstLayerLatentAttentionAndGroupRouting() {
        Path dir = TinyCheckpoints.write(tmp.resolve("v3"), "deepseek_v3");
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelSpec s = ModelSpec.of(c);
            assertFalse(s.layer(0).moe());
            assertEquals(48, s.layer(0).ffn());
            assertTrue(s.layer(1).moe());
            assertEquals(1, s.layer(1).sharedExperts());
            assertEquals(16, s.layer(1).sharedFfn());
            assertEquals(new Routing(Routing.Scoring.SIGMOID, true, 1.0, true, 2, 1), s.routing());
            assertEquals(new ModelSpec.Mla(16, 16, 8, 8, 8), s.mla());
            assertEquals(16, s.headDim());
            assertTrue(c.has(s.name(Role.KV_A, 0)));
            assertEquals(DType.F32, c.info(s.name(Role.ROUTER_CORRECTION_BIAS, 1)).dtype());
        }
    }

    @Test
    void phimoeUsesLayerNormWithBiasesAndSparsemixer() {
        Path dir = TinyCheckpoints.write(tmp.resolve("phi"), "phimoe");
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(Family.Norm.LAYER, s.norm());
            assertEquals(Routing.Scoring.SPARSEMIXER, s.routing().scoring());
            assertTrue(s.qkvBias());
            ModelWeights w = new ModelWeights(c, s);
            assertTrue(w.has(Role.LM_HEAD_BIAS));
            assertTrue(w.has(Role.O_BIAS, 1));
            assertEquals(64, w.get(Role.LM_HEAD_BIAS).length);
            for (float v : w.get(Role.INPUT_NORM_BIAS, 0)) {
                assertEquals(0f, v);
            }
        }
    }

    @Test
    void tiedEmbeddingsFallBackToTheEmbedding() {
        Path dir = TinyCheckpoints.builder("qwen3_moe").tiedEmbeddings(true).write(tmp.resolve("tied"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            ModelWeights w = ModelWeights.of(c);
            assertTrue(w.spec().tiedEmbeddings());
            assertTrue(w.spec().qkNorm());
            assertArrayEquals(w.get(Role.EMBED), w.get(Role.LM_HEAD));
            assertEquals(8, w.get(Role.Q_NORM, 0).length); // per head
        }
    }
}
