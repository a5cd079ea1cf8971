package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every family the toolkit describes, on tiny random checkpoints from the toolkit fixture. */
class FamiliesTest {
    @TempDir
    Path tmp;

    /** Two rows of 8 tokens; the second is right-padded after 5 tokens. */
    static final TokenBatch PADDED = new TokenBatch(new int[] {1, 5, 9, 3, 7, 2, 11, 4, 1, 5, 9, 3, 7, 0, 0, 0},
            new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, 2, 8);
    static final TokenBatch UNPADDED = new TokenBatch(new int[] {1, 5, 9, 3, 7}, new int[] {1, 1, 1, 1, 1}, 1, 5);

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek",
        "phimoe"})
    void forwardIsFiniteCausalAndIgnoresRightPadding(String family) {
        Path dir = TinyCheckpoints.write(tmp.resolve(family), family);
        Map<Integer, float[]> weightSums = new TreeMap<>();
        ForwardObserver sums = new ForwardObserver() {
            @Override
            public void router(int layer, RouterOutput r) {
                weightSums.put(layer, r.topWeights().sum(new int[] {1}).toFloatArray());
                for (float g : r.topWeights().toFloatArray()) {
                    assertTrue(g > 0 && g <= 1.0f + 1e-6f, family + ": gate " + g);
                }
            }
        };
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            ModelSpec spec = lm.spec();
            float[] padded = run(lm, PADDED, sums);
            float[] alone = run(lm, UNPADDED, ForwardObserver.NONE);
            int vocab = spec.vocab();
            assertEquals(16 * vocab, padded.length);
            for (float v : padded) {
                assertTrue(Float.isFinite(v), family + ": non-finite logit");
            }
            // row 1's five real tokens score the same with or without the padding after them
            for (int t = 0; t < 5; t++) {
                for (int v = 0; v < vocab; v++) {
                    assertEquals(alone[t * vocab + v], padded[(8 + t) * vocab + v], 1e-5, family + " t=" + t);
                }
            }
            for (int l = 0; l < spec.layers(); l++) {
                assertEquals(spec.layer(l).moe(), weightSums.containsKey(l), family + ": router hook of layer " + l);
            }
            for (float[] s : weightSums.values()) {
                for (float x : s) {
                    if (spec.routing().scoring() == dev.moekit.toolkit.model.Routing.Scoring.SPARSEMIXER) {
                        assertTrue(x > 0 && x <= 2.0f + 1e-6f, family + ": two separate softmax gates " + x);
                    } else if (spec.routing().renormalize()) {
                        assertEquals(1.0, x, 1e-5, family + ": renormalised gate weights");
                    } else {
                        assertTrue(x > 0 && x < 1, family + ": top-k softmax mass without renormalisation " + x);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral", "qwen2_moe", "olmoe", "phimoe"})
    void fusedExpertLayoutGivesTheSameLogits(String family) {
        Path a = TinyCheckpoints.builder(family).seed(3).write(tmp.resolve("split"));
        Path b = TinyCheckpoints.builder(family).seed(3).fused(true).transformers5(true).write(tmp.resolve("fused"));
        float[] split;
        try (CausalLm lm = CausalLm.open(a, RuntimeOptions.cpu())) {
            split = run(lm, PADDED, ForwardObserver.NONE);
        }
        try (CausalLm lm = CausalLm.open(b, RuntimeOptions.cpu())) {
            assertTrue(lm.spec().fusedExperts());
            assertArrayEquals(split, run(lm, PADDED, ForwardObserver.NONE), 1e-5f);
        }
    }

    /**
     * The padded expert dispatch (one batched matmul chain per layer, GPU default) computes what the sorted one
     * does, per family and expert layout; tiny models route few tokens, so some experts get none (padding only).
     */
    @ParameterizedTest
    @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek", "phimoe", "mixtral:fused",
        "qwen2_moe:fused"})
    void paddedExpertDispatchGivesTheSameLogitsAsSorted(String which) {
        String family = which.split(":")[0];
        Path dir = TinyCheckpoints.builder(family).seed(5).fused(which.endsWith(":fused"))
                .transformers5(which.endsWith(":fused")).write(tmp.resolve(which.replace(':', '-')));
        float[] sorted;
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu().withExperts(RuntimeOptions.ExpertDispatch.SORTED))) {
            sorted = run(lm, PADDED, ForwardObserver.NONE);
        }
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu().withExperts(RuntimeOptions.ExpertDispatch.PADDED))) {
            float[] padded = run(lm, PADDED, ForwardObserver.NONE);
            assertArrayEquals(sorted, padded, 1e-5f, which);
            // an edited expert weight leaves the stack stale: the layer falls back to sorted, with the edit in effect
            int moe = 0;
            while (!lm.spec().layer(moe).moe()) {
                moe++;
            }
            zeroExpertUp(lm, moe);
            float[] edited = run(lm, PADDED, ForwardObserver.NONE);
            assertTrue(!java.util.Arrays.equals(padded, edited), which + ": the edit changes the logits");
            try (CausalLm ref = CausalLm.open(dir, RuntimeOptions.cpu().withExperts(RuntimeOptions.ExpertDispatch.SORTED))) {
                zeroExpertUp(ref, moe);
                assertArrayEquals(run(ref, PADDED, ForwardObserver.NONE), edited, 1e-5f, which + " after an edit");
            }
        }
    }

    @Test
    void multiHeadLatentAttentionIsRefusedClearly() {
        Path dir = TinyCheckpoints.write(tmp.resolve("v3"), "deepseek_v3");
        CheckpointException e = assertThrows(CheckpointException.class, () -> CausalLm.open(dir, RuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("multi-head latent attention"), e.getMessage());
    }

    /** Zeroes every expert's up projection of layer {@code layer} in place (resident weights keep the edit). */
    private static void zeroExpertUp(CausalLm lm, int layer) {
        try (dev.moekit.eval.runtime.Pass p = lm.begin(List.of(PADDED))) {
            for (int l = 0; l < layer; l++) {
                p.advance(ForwardObserver.NONE);
            }
            dev.moekit.eval.runtime.LayerWeights w = p.layer();
            for (int e = 0; e < w.spec().experts(); e++) {
                float[] up = w.floats(dev.moekit.toolkit.model.Role.EXPERT_UP, e);
                java.util.Arrays.fill(up, 0f);
                w.replace(dev.moekit.toolkit.model.Role.EXPERT_UP, e, up);
            }
        }
    }

    static float[] run(CausalLm lm, TokenBatch batch, ForwardObserver obs) {
        float[][] out = new float[1][];
        lm.run(List.of(batch), obs, (i, b, l) -> out[0] = l.toFloatArray());
        return out[0];
    }
}
