package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Logits, router logits and perplexities of every reference model against the HF fp32 goldens. */
class GoldenParityTest {
    static final double LOGIT_TOLERANCE = 1e-3;
    static final double PPL_RELATIVE_TOLERANCE = 1e-3;

    static List<String> models() {
        return Goldens.models().toList();
    }

    @ParameterizedTest
    @MethodSource("models")
    void logitsAndRouterLogitsMatchTransformers(String name) {
        Path golden = Goldens.model(name).resolve("golden/logits.safetensors");
        long[] shape = Goldens.shape(golden, "input_ids");                                  // [B, T]
        int rows = (int) shape[0];
        int length = (int) shape[1];
        TokenBatch batch = new TokenBatch(Goldens.ints(golden, "input_ids"), Goldens.ints(golden, "attention_mask"),
                rows, length);
        Map<Integer, float[]> router = new HashMap<>();
        ForwardObserver capture = new ForwardObserver() {
            @Override
            public void router(int layer, RouterOutput r) {
                router.put(layer, r.logits().toFloatArray());
            }
        };
        float[][] logits = new float[1][];
        try (CausalLm lm = CausalLm.open(Goldens.model(name), RuntimeOptions.cpu())) {
            lm.run(List.of(batch), capture, (i, b, l) -> logits[0] = l.toFloatArray());
            float[] expected = Goldens.floats(golden, "logits");
            int vocab = expected.length / (rows * length);
            assertEquals(expected.length, logits[0].length, "logits size");
            assertTrue(batch.tokens() < rows * length, "the probe batch has padding");
            double worst = maxDiffOnTokens(expected, logits[0], batch.mask(), vocab);
            assertTrue(worst < LOGIT_TOLERANCE, name + ": max |logit diff| " + worst);
            for (int layer = 0; layer < lm.spec().layers(); layer++) {
                String key = "router_logits." + layer;
                if (!Goldens.has(golden, key)) {
                    continue;
                }
                float[] exp = Goldens.floats(golden, key);
                float[] got = router.get(layer);
                assertEquals(exp.length, got.length, key + " size");
                double d = maxDiffOnTokens(exp, got, batch.mask(), exp.length / (rows * length));
                assertTrue(d < LOGIT_TOLERANCE, name + " " + key + ": max |diff| " + d);
            }
            assertEquals(lm.spec().isMoe(), !router.isEmpty(), "router hooks fire exactly for MoE models");
        }
    }

    @ParameterizedTest
    @MethodSource("models")
    void perplexityOnGoldenWindowsMatchesTransformers(String name) {
        try (CausalLm lm = CausalLm.open(Goldens.model(name), RuntimeOptions.cpu().withBatchSize(8))) {
            Evaluator ev = new Evaluator(lm, null, ForwardObserver.NONE);
            for (String domain : domains(name)) {
                Evaluator.Scores s = ev.score(Goldens.windows(name, domain), (d, t) -> { });
                double ppl = Math.exp(s.meanNll());
                double expected = Goldens.ppl(name, domain);
                assertEquals(32 * 255, s.nll().length, "scored positions");
                assertEquals(expected, ppl, expected * PPL_RELATIVE_TOLERANCE, name + " " + domain);
            }
        }
    }

    /**
     * Domains whose golden perplexity is checked: all four for every model of its own architecture, only its own
     * domain for the four specialists branched from llama-tiny-seed (same architecture and code path as the seed,
     * which is checked on all four; the goldens are over all 32 windows, so fewer windows would not compare). This
     * keeps the suite's slowest test within its budget on 2 cores.
     */
    static List<String> domains(String name) {
        if (name.startsWith("llama-tiny-") && !name.equals("llama-tiny-seed")) {
            String own = name.substring("llama-tiny-".length());
            if (Goldens.DOMAINS.contains(own)) {
                return List.of(own);
            }
        }
        return Goldens.DOMAINS;
    }

    /** Max |a - b| over rows (tokens) whose mask is 1; both {@code [tokens, width]}. */
    static double maxDiffOnTokens(float[] a, float[] b, int[] mask, int width) {
        double worst = 0;
        for (int t = 0; t < mask.length; t++) {
            if (mask[t] == 0) {
                continue;
            }
            for (int j = 0; j < width; j++) {
                worst = Math.max(worst, Math.abs(a[t * width + j] - b[t * width + j]));
            }
        }
        return worst;
    }
}
