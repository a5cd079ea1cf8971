package dev.moekit.upcycle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.moekit.eval.DomainResult;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.TextWindows;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Assembly on the reference seed and its specialists: sparse upcycling reproduces the dense model before training
 * (all layers as Mixtral, every other layer as Qwen2-MoE); BTX places each specialist's MLP as its expert and averages
 * the rest; one expert that is the seed reproduces the seed's logits.
 */
class AssemblyTest {
    private static int threads;

    @BeforeAll
    static void one() {
        threads = Refs.oneThread();
    }

    @AfterAll
    static void back() {
        Refs.threads(threads);
    }

    private static void samePerplexity(EvalResult dense, EvalResult moe) {
        for (int i = 0; i < dense.domains().size(); i++) {
            DomainResult d = dense.domains().get(i);
            DomainResult m = moe.domains().get(i);
            assertEquals(d.domain(), m.domain());
            assertEquals(d.perplexity(), m.perplexity(), d.perplexity() * 1e-5, d.domain() + ": upcycled " + m.perplexity()
                    + " vs dense " + d.perplexity());
        }
    }

    @Test
    void sparseUpcyclingOfAllLayersIsAMixtralWithTheDensePerplexity(@TempDir Path tmp) {
        Path out = tmp.resolve("moe");
        Assembly.write(Refs.seed(), new Assembly.Spec(Collections.nCopies(8, Refs.seed()), List.of(Refs.seed()),
                Assembly.Layers.ALL, 2, Double.NaN, 7), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("mixtral", s.family().name());
            assertEquals(List.of(), SpecChecker.check(c, s));
            assertTrue(s.layerSpecs().stream().allMatch(l -> l.moe() && l.experts() == 8 && l.topK() == 2));
            assertFalse(s.tiedEmbeddings(), "lm_head written out, as the reference upcycled model");
            try (Checkpoint seed = Checkpoint.open(Refs.seed())) {
                assertArrayEquals(seed.floats("model.layers.3.mlp.up_proj.weight"), c.floats("model.layers.3.block_sparse_moe.experts.5.w3.weight"));
                assertArrayEquals(seed.floats("model.embed_tokens.weight"), c.floats("lm_head.weight"));
            }
            float[] router = c.floats("model.layers.0.block_sparse_moe.gate.weight");
            double sq = 0;
            for (float v : router) {
                sq += v * v;
            }
            assertEquals(0.02, Math.sqrt(sq / router.length), 0.002, "router std = initializer_range");
        }
        samePerplexity(Refs.eval(Refs.seed(), 2), Refs.eval(out, 2));
    }

    @Test
    void sparseUpcyclingOfEveryOtherLayerIsAQwen2MoeWithTheDensePerplexity(@TempDir Path tmp) {
        Path out = tmp.resolve("moe");
        Assembly.write(Refs.seed(), new Assembly.Spec(Collections.nCopies(4, Refs.seed()), List.of(Refs.seed()),
                Assembly.Layers.EVERY_OTHER, 2, Double.NaN, 7), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("qwen2_moe", s.family().name());
            assertEquals(List.of(), SpecChecker.check(c, s));
            for (int l = 0; l < s.layers(); l++) {
                assertEquals(l % 2 == 1, s.layer(l).moe(), "layer " + l);
            }
            assertEquals(2, c.config().path("decoder_sparse_step").asInt());
            assertTrue(c.config().path("norm_topk_prob").asBoolean());
            assertTrue(c.has("model.layers.0.mlp.gate_proj.weight"));
            assertTrue(c.has("model.layers.1.mlp.experts.3.down_proj.weight"));
            assertFalse(c.has("model.layers.1.mlp.gate_proj.weight"));
        }
        samePerplexity(Refs.eval(Refs.seed(), 2), Refs.eval(out, 2));
    }

    @Test
    void btxPutsEachSpecialistsMlpInItsExpertAndAveragesTheRest(@TempDir Path tmp) {
        List<Path> specs = Refs.specialists();
        List<Path> experts = new java.util.ArrayList<>(specs);
        experts.add(Refs.seed());
        List<Path> averaged = new java.util.ArrayList<>(List.of(Refs.seed()));
        averaged.addAll(specs);
        Path out = tmp.resolve("btx");
        Assembly.write(Refs.seed(), new Assembly.Spec(experts, averaged, Assembly.Layers.ALL, 2, Double.NaN, 1), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(5, ModelSpec.of(c).layer(0).experts());
            for (int e = 0; e < experts.size(); e++) {
                try (Checkpoint src = Checkpoint.open(experts.get(e))) {
                    assertArrayEquals(src.floats("model.layers.2.mlp.gate_proj.weight"),
                            c.floats("model.layers.2.block_sparse_moe.experts." + e + ".w1.weight"), "expert " + e);
                }
            }
            for (String name : List.of("model.layers.4.self_attn.k_proj.weight", "model.norm.weight", "model.embed_tokens.weight")) {
                int n = Math.toIntExact(c.info(name).numel());
                double[] mean = new double[n];
                double[] scale = new double[n];      // mean |v|: cancelling values round to bf16 of the terms
                for (Path p : averaged) {
                    try (Checkpoint src = Checkpoint.open(p)) {
                        float[] v = src.floats(name);
                        for (int i = 0; i < v.length; i++) {
                            mean[i] += (double) v[i] / averaged.size();
                            scale[i] += Math.abs((double) v[i]) / averaged.size();
                        }
                    }
                }
                float[] got = c.floats(name);
                for (int i = 0; i < got.length; i++) {
                    assertEquals(mean[i], got[i], scale[i] / 128 + 1e-30, name + "[" + i + "] is the mean to bf16 precision");
                }
            }
        }
    }

    @Test
    void oneExpertThatIsTheSeedGivesTheSeedsLogits(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("one");
        Assembly.write(Refs.seed(), new Assembly.Spec(List.of(Refs.seed()), List.of(Refs.seed()), Assembly.Layers.ALL, 1, Double.NaN, 1), out);
        int[][] windows;
        try (TextWindows t = TextWindows.open(Refs.seed())) {
            windows = t.windows(Refs.testSplits().get(1), 64, 2);
        }
        try (CausalLm a = CausalLm.open(Refs.seed(), RuntimeOptions.cpu()); CausalLm b = CausalLm.open(out, RuntimeOptions.cpu());
             NDManager m = NDManager.newBaseManager()) {
            TokenBatch batch = TokenBatch.of(windows);
            float[] x = a.forward(batch, m, ForwardObserver.NONE).toFloatArray();
            NDArray yb = b.forward(batch, m, ForwardObserver.NONE);
            float[] y = yb.toFloatArray();
            assertEquals(x.length, y.length);
            double max = 0;
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
            assertTrue(max < 1e-4, "max |logit difference| " + max);
        }
    }

    @Test
    void refusesAnMoeSeedAndAMismatchedSpecialistNamingThem(@TempDir Path tmp) {
        Path mixtral = Refs.model("mixtral-tiny");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Assembly.write(mixtral,
                new Assembly.Spec(List.of(mixtral), List.of(mixtral), Assembly.Layers.ALL, 1, Double.NaN, 1), tmp.resolve("x")));
        assertTrue(e.getMessage().contains("mixtral-tiny") && e.getMessage().contains("already a mixture"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Assembly.write(Refs.seed(),
                new Assembly.Spec(List.of(Refs.seed(), mixtral), List.of(Refs.seed()), Assembly.Layers.ALL, 1, Double.NaN, 1), tmp.resolve("y")));
        assertTrue(e.getMessage().contains("mixtral-tiny"), e.getMessage());
        assertFalse(java.nio.file.Files.exists(tmp.resolve("y")), "no output");
        assertFalse(java.nio.file.Files.exists(tmp.resolve("y.partial")), "no partial output");
    }
}
