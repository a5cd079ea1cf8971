package dev.moekit.distill.ce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.CompressedExperts;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ParamCount;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The compressed-experts forward of moekit's runtime, against plain top-k and against a hand computation. */
class CompressedExpertsRuntimeTest {

    @Test
    void withNoAuxiliaryExpertTheCompressedForwardIsPlainTopK(@TempDir Path tmp) {
        Path tiny = TinyCheckpoints.builder("mixtral").layers(2).hidden(32).vocab(64).experts(4).topK(2).expertFfn(16)
                .dtype(DType.F32).write(tmp.resolve("tiny"));
        // use_ce with n_ce 0 and no ces tensor: every expert of the top-2 is main, theta is ones
        Path ce = CeFixtures.copy(tiny, tmp.resolve("ce0"), c -> c.put("use_ce", true).put("n_ce", 0), 0);
        TokenBatch b = CeFixtures.batch(2, 24, 64);
        float[] plain = CeFixtures.logits(tiny, b, ForwardObserver.NONE);
        float[] comp = CeFixtures.logits(ce, b, ForwardObserver.NONE);
        assertEquals(0.0, CeFixtures.maxAbsDiff(plain, comp), 0.0, "same numbers, bit for bit");
    }

    /**
     * qwen2moe-tiny does not renormalise its top-k (norm_topk_prob false), so top-4 as 2 main + 2 compressed experts
     * with ces at ones is exactly plain top-2: the main experts keep their own softmax weights.
     */
    @Test
    void cesAtOnesIsPlainTopMainForAFamilyWithoutRenormalisation(@TempDir Path tmp) {
        Path src = CeFixtures.model("qwen2moe-tiny");
        Path ce = CeFixtures.compress(src, tmp.resolve("ce"), 2, true, "split");
        Path top2 = CeFixtures.compress(src, tmp.resolve("top2"), 2, false, "split");
        TokenBatch b = CeFixtures.batch(1, 48, 8192);
        double d = CeFixtures.maxAbsDiff(CeFixtures.logits(top2, b, ForwardObserver.NONE), CeFixtures.logits(ce, b, ForwardObserver.NONE));
        assertTrue(d < 1e-4, "max |logit difference| " + d);
    }

    /**
     * Mixtral renormalises over the router's top-k: a main expert keeps w_1/(w_1+w_2), not 1, so 1 main + 1 compressed
     * expert with ces at ones is not plain top-1 (which scales E_1 by 1).
     */
    @Test
    void mainExpertsKeepTheirTopKWeightNotOne(@TempDir Path tmp) {
        Path src = CeFixtures.model("mixtral-tiny");
        Path ce = CeFixtures.compress(src, tmp.resolve("ce"), 1, true, "split");
        Path top1 = CeFixtures.compress(src, tmp.resolve("top1"), 1, false, "split");
        TokenBatch b = CeFixtures.batch(1, 32, 8192);
        double d = CeFixtures.maxAbsDiff(CeFixtures.logits(top1, b, ForwardObserver.NONE), CeFixtures.logits(ce, b, ForwardObserver.NONE));
        assertTrue(d > 1e-2, "the two weightings differ, max |logit difference| " + d);
    }

    /**
     * One MoE layer by hand: top-3 as 1 main + 2 compressed experts with random ces, in both layouts. For every token
     * the main expert's output is {@code down(silu(gate(x*t1)) * up(x*t3) * t2)} with theta the auxiliary ces rows
     * mixed by their renormalised weights, only the main expert runs, and the layer adds it scaled by its own weight.
     */
    @ParameterizedTest
    @ValueSource(strings = {"split", "code"})
    void oneLayerByHand(String layout, @TempDir Path tmp) throws Exception {
        int hidden = 16;
        int ffn = layout.equals("code") ? 8 : 24;   // the code layout needs ffn <= hidden; split is tested wider
        Path tiny = TinyCheckpoints.builder("mixtral").layers(1).hidden(hidden).heads(2, 2).vocab(64).experts(5).topK(3)
                .expertFfn(ffn).dtype(DType.F32).write(tmp.resolve("tiny"));
        Path ones = CeFixtures.compress(tiny, tmp.resolve("ones"), 1, true, layout);
        Path ce = CeFixtures.copy(ones, tmp.resolve("ce"), c -> c, 42);
        Capture cap = new Capture();
        CeFixtures.logits(ce, CeFixtures.batch(2, 10, 64), cap);
        try (Checkpoint c = Checkpoint.open(ce)) {
            ModelSpec spec = ModelSpec.of(c);
            assertEquals(layout.equals("code") ? List.of(5L, 3L, (long) hidden) : List.of(5L, 2L * hidden + ffn),
                    java.util.Arrays.stream(c.info(spec.name(Role.CES, 0)).shape()).boxed().toList());
            float[] ces = c.floats(spec.name(Role.CES, 0));
            int width = ces.length / 5;
            int n = cap.x.length / hidden;
            float[] wo = c.floats(spec.name(Role.O, 0));
            int oIn = cap.oInput.length / n;
            int runs = 0;
            for (int t = 0; t < n; t++) {
                int main = (int) cap.indices[t * 3];
                double w0 = cap.weights[t * 3];
                assertTrue(w0 < 0.999, "the main expert's weight is its top-3 share, not renormalised to 1: " + w0);
                double a1 = cap.weights[t * 3 + 1];
                double a2 = cap.weights[t * 3 + 2];
                double[] theta = new double[width];
                for (int i = 0; i < width; i++) {
                    theta[i] = a1 / (a1 + a2) * ces[(int) cap.indices[t * 3 + 1] * width + i]
                            + a2 / (a1 + a2) * ces[(int) cap.indices[t * 3 + 2] * width + i];
                }
                float[] g = c.floats(spec.name(Role.EXPERT_GATE, 0, main));
                float[] u = c.floats(spec.name(Role.EXPERT_UP, 0, main));
                float[] dn = c.floats(spec.name(Role.EXPERT_DOWN, 0, main));
                double[] h = new double[ffn];
                for (int f = 0; f < ffn; f++) {
                    double gs = 0;
                    double us = 0;
                    for (int i = 0; i < hidden; i++) {
                        double xi = cap.x[t * hidden + i];
                        gs += g[f * hidden + i] * xi * theta[i];
                        us += u[f * hidden + i] * xi * theta[hidden + i];
                    }
                    h[f] = gs / (1 + Math.exp(-gs)) * us * theta[2 * hidden + f];
                }
                float[] y = cap.expertOut.get(t + ":" + main);
                assertTrue(y != null, "token " + t + " ran its main expert " + main);
                for (int o = 0; o < hidden; o++) {
                    double yo = 0;
                    for (int f = 0; f < ffn; f++) {
                        yo += dn[o * ffn + f] * h[f];
                    }
                    assertEquals(yo, y[o], 1e-4 * Math.max(1, Math.abs(yo)), "token " + t + " output " + o);
                    // the layer: residual + attention (o_proj of its input) + w0 * main expert
                    double attn = 0;
                    for (int i = 0; i < oIn; i++) {
                        attn += wo[o * oIn + i] * cap.oInput[t * oIn + i];
                    }
                    double want = cap.layerIn[t * hidden + o] + attn + w0 * yo;
                    assertEquals(want, cap.layerOut[t * hidden + o], 1e-4 * Math.max(1, Math.abs(want)), "layer output " + o + " of token " + t);
                }
                runs++;
            }
            assertEquals(n, cap.expertOut.size(), "one expert run per token: the compressed ones never run");
            assertEquals(n, runs);
        }
    }

    @Test
    void theOutputPassesTheSpecCheckAndCountsActiveParameters(@TempDir Path tmp) {
        Path src = CeFixtures.model("mixtral-tiny");
        Path ce = CeFixtures.compress(src, tmp.resolve("ce"), 1, true, "split");
        try (Checkpoint c = Checkpoint.open(ce); Checkpoint in = Checkpoint.open(src)) {
            ModelSpec spec = ModelSpec.of(c);
            assertEquals(List.of(), SpecChecker.check(c, spec));
            CompressedExperts cx = CompressedExperts.of(spec);
            assertTrue(cx.enabled());
            assertEquals(1, cx.aux());
            assertEquals(2, spec.layer(0).topK(), "num_experts_per_tok unchanged");
            assertEquals("mixtral", spec.family().name());
            assertEquals("MoekitCeMixtralForCausalLM", c.config().path("architectures").get(0).asText());
            assertEquals("modeling_moekit_ce.MoekitCeMixtralForCausalLM", c.config().path("auto_map").path("AutoModelForCausalLM").asText());
            assertTrue(Files.exists(ce.resolve("modeling_moekit_ce.py")) && Files.exists(ce.resolve("configuration_moekit_ce.py")));
            float[] v = c.floats(spec.name(Role.CES, 3));
            for (float f : v) {
                assertEquals(1f, f);
            }
            ModelSpec orig = ModelSpec.of(in);
            long perExpert = 3L * 256 * 512;
            long width = 2L * 256 + 512;
            // one expert fewer runs per layer, and one ces row is read
            assertEquals(ParamCount.activePerToken(orig) - 6 * perExpert + 6 * width, ParamCount.activePerToken(spec));
            assertEquals(ParamCount.of(c, spec).active(), ParamCount.activePerToken(spec));
        }
    }

    @Test
    void aConfigThatLeavesNoMainExpertOrMisplacesThetaTwoIsRefusedNamingTheKey(@TempDir Path tmp) {
        Path src = CeFixtures.model("mixtral-tiny");
        Path noMain = CeFixtures.copy(src, tmp.resolve("nomain"), c -> c.put("use_ce", true).put("n_ce", 2), 0);
        CheckpointException e = assertThrows(CheckpointException.class, () -> CausalLm.open(noMain, RuntimeOptions.cpu()).close());
        assertTrue(e.getMessage().contains("n_ce") && e.getMessage().contains("top-k"), e.getMessage());
        Path code = CeFixtures.copy(src, tmp.resolve("code"), c -> c.put("use_ce", true).put("n_ce", 1).put("ce_layout", "code"), 0);
        e = assertThrows(CheckpointException.class, () -> CausalLm.open(code, RuntimeOptions.cpu()).close());
        assertTrue(e.getMessage().contains("ce_layout") && e.getMessage().contains("512"), e.getMessage());
    }

    /** Copies what the forward shows of layer 0 into Java arrays. */
    static final class Capture implements ForwardObserver {
        float[] x;
        float[] oInput;
        float[] layerIn;
        float[] layerOut;
        long[] indices;
        float[] weights;
        final Map<String, float[]> expertOut = new HashMap<>();

        @Override
        public Set<Role> linearInputs() {
            return Set.of(Role.ROUTER, Role.O);
        }

        @Override
        public void linearInput(int layer, Role role, int expert, NDArray input) {
            if (role == Role.ROUTER) {
                x = input.toFloatArray();
            } else {
                oInput = input.reshape(-1).toFloatArray();
            }
        }

        @Override
        public void layerInput(int layer, NDArray hidden) {
            layerIn = hidden.toFloatArray();
        }

        @Override
        public void layerOutput(int layer, NDArray hidden) {
            layerOut = hidden.toFloatArray();
        }

        @Override
        public void router(int layer, RouterOutput r) {
            indices = r.topIndices().toLongArray();
            weights = r.topWeights().toFloatArray();
        }

        @Override
        public void expert(int layer, int expert, NDArray tokens, NDArray input, NDArray output) {
            long[] t = tokens.toLongArray();
            float[] y = output.toFloatArray();
            int h = y.length / t.length;
            for (int i = 0; i < t.length; i++) {
                float[] row = java.util.Arrays.copyOfRange(y, i * h, (i + 1) * h);
                assertFalse(expertOut.containsKey(t[i] + ":" + expert));
                expertOut.put(t[i] + ":" + expert, row);
            }
        }
    }
}
