package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.runtime.RuntimeOptions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** End-to-end evaluation from text files: perplexity, KL to a reference, top-1 agreement, routing counts. */
class EvaluatorTest {

    @Test
    void seedAgainstPythonBranchReproducesBothGoldenPerplexitiesAndPositiveKl() {
        EvalOptions o = EvalOptions.of(List.of(Goldens.data("python.test.txt")))
                .withReference(Goldens.model("llama-tiny-python"));
        List<Integer> progress = new ArrayList<>();
        EvalResult r = Evaluator.evaluate(Goldens.model("llama-tiny-seed"), o, (s, d, t) -> progress.add(d));
        DomainResult py = r.domains().getFirst();
        assertEquals("python", py.domain());
        assertEquals(32 * 255, py.tokens());
        assertEquals(Goldens.ppl("llama-tiny-seed", "python"), py.perplexity(), 1e-3 * py.perplexity());
        assertEquals(Goldens.ppl("llama-tiny-python", "python"), py.referencePerplexity(),
                1e-3 * py.referencePerplexity());
        KlStats kl = py.kl();
        assertTrue(kl.mean() > 0.01, "models trained apart differ: " + kl);
        assertTrue(kl.median() <= kl.p90() && kl.p90() <= kl.p99() && kl.p99() <= kl.max(), kl.toString());
        // the same pair scored by tools/hf_eval.py with transformers 5.17 in fp32 on an H100: KL mean 0.207297,
        // median 0.141325, max 3.47668, top-1 agreement 0.781740
        assertEquals(0.207297, kl.mean(), 1e-3);
        assertEquals(0.141325, kl.median(), 1e-3);
        assertEquals(3.47668, kl.max(), 1e-2);
        assertEquals(0.781740, py.top1(), 2e-3);
        assertEquals(32, progress.getLast());
        assertTrue(r.routing().isEmpty(), "dense model has no routing");
        ObjectNode json = r.toJson();
        assertEquals(py.perplexity(), json.get("domains").get(0).get("perplexity").asDouble());
        assertTrue(r.table().contains("python"), r.table());
    }

    @Test
    void moeModelAgainstItselfLayerwiseHasZeroKlFullAgreementAndCountsEveryChoice() {
        EvalOptions o = EvalOptions.of(List.of(Goldens.data("misc.test.txt"))).withWindows(64, 4)
                .withReference(Goldens.model("mixtral-tiny"))
                .withRuntime(RuntimeOptions.cpu().withLayerwise(true).withBatchSize(3));   // one pass, two batches
        EvalResult r = Evaluator.evaluate(Goldens.model("mixtral-tiny"), o, Progress.NONE);
        DomainResult d = r.domains().getFirst();
        assertEquals(4 * 63, d.tokens());
        assertEquals(d.perplexity(), d.referencePerplexity(), 1e-9 * d.perplexity());
        assertTrue(d.kl().max() < 1e-5, d.kl().toString());
        assertEquals(1.0, d.top1());
        assertEquals(6, r.routing().size());
        for (LayerRouting lr : r.routing()) {
            assertEquals(4 * 64, lr.tokens());
            assertEquals(4 * 64 * 2, java.util.Arrays.stream(lr.counts()).sum(), "top-2 choices per token");
        }
        assertTrue(r.tokensPerSecond() > 0);
    }

    @Test
    void klOfTwoKnownDistributionsMatchesTheHandComputedValue() {
        // position 0: P = (1/2, 1/4, 1/4), Q = (1/4, 1/2, 1/4): KL(P||Q) = 1/2 ln 2 + 1/4 ln(1/2) + 0 = ln(2)/4
        // position 1: P = (0.9, 0.05, 0.05), Q uniform: KL = 0.9 ln 2.7 + 2 * 0.05 ln 0.15
        // position 2 (the last) predicts nothing and is dropped; logits are log-probabilities plus a per-row shift,
        // which logSoftmax must remove
        float[][] p = {{0.5f, 0.25f, 0.25f}, {0.9f, 0.05f, 0.05f}, {1f / 3, 1f / 3, 1f / 3}};
        float[][] q = {{0.25f, 0.5f, 0.25f}, {1f / 3, 1f / 3, 1f / 3}, {0.2f, 0.3f, 0.5f}};
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            ai.djl.ndarray.NDArray logitsP = logits(m, p, 3.0f);
            ai.djl.ndarray.NDArray logitsQ = logits(m, q, -7.5f);
            float[] kl = Scoring.kl(Scoring.logProbs(logitsQ), Scoring.logProbs(logitsP));
            assertEquals(2, kl.length, "T-1 predicting positions");
            assertEquals(Math.log(2) / 4, kl[0], 1e-6);
            assertEquals(0.9 * Math.log(2.7) + 0.1 * Math.log(0.15), kl[1], 1e-6);
            float[] self = Scoring.kl(Scoring.logProbs(logitsP), Scoring.logProbs(logitsP));
            assertEquals(0.0, self[0], 1e-7);
            assertEquals(0.0, self[1], 1e-7);
        }
        KlStats s = KlStats.of(new float[] {0.4f, 0.1f, 0.2f, 0.3f});
        assertEquals(0.25, s.mean(), 1e-7);
        assertEquals(0.25, s.median(), 1e-7);    // halfway between 0.2 and 0.3
        assertEquals(0.37, s.p90(), 1e-6);       // rank 2.7: 0.3 + 0.7 * 0.1
        assertEquals(0.4, s.max(), 1e-7);
    }

    /** Logits [1, T, V] equal to ln(probs) + shift. */
    private static ai.djl.ndarray.NDArray logits(ai.djl.ndarray.NDManager m, float[][] probs, float shift) {
        float[] flat = new float[probs.length * probs[0].length];
        for (int t = 0; t < probs.length; t++) {
            for (int v = 0; v < probs[t].length; v++) {
                flat[t * probs[t].length + v] = (float) Math.log(probs[t][v]) + shift;
            }
        }
        return m.create(flat, new ai.djl.ndarray.types.Shape(1, probs.length, probs[0].length));
    }

    @Test
    void withoutReferenceThereIsNoKl() {
        EvalOptions o = EvalOptions.of(List.of(Goldens.data("dict.test.txt"))).withWindows(32, 2);
        EvalResult r = Evaluator.evaluate(Goldens.model("qwen2moe-tiny"), o, Progress.NONE);
        assertNull(r.domains().getFirst().kl());
        assertNull(r.overallKl());
        assertEquals(6, r.routing().size());
        assertTrue(Double.isNaN(r.domains().getFirst().top1()));
    }
}
