package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layer-at-a-time loading, native memory scoping, options validation and protocol tokenization. */
class RuntimeBehaviourTest {

    @Test
    void layerwiseLoadingGivesTheSameLogitsAsResidentWeights() {
        int[][] windows = Arrays.copyOf(Goldens.windows("qwen2moe-tiny", "misc"), 3);
        List<TokenBatch> batches = List.of(TokenBatch.of(Arrays.copyOf(windows, 2)),
                TokenBatch.of(Arrays.copyOfRange(windows, 2, 3)));
        float[][] resident = logits("qwen2moe-tiny", RuntimeOptions.cpu(), batches);
        float[][] layerwise = logits("qwen2moe-tiny", RuntimeOptions.cpu().withLayerwise(true), batches);
        for (int b = 0; b < batches.size(); b++) {
            assertArrayEquals(resident[b], layerwise[b], 1e-5f, "batch " + b);
        }
    }

    /**
     * 1,000 forwards of a tiny MoE model hold the model's array count and resident memory steady. Each forward's
     * activations are 128 kB per array ({@code [256 tokens, 128]} fp32), so leaking even one array per layer and
     * forward would add 256 MB, well above the allowance for allocator and heap noise.
     */
    @Test
    void thousandForwardsDoNotGrowNativeMemoryOrManagedArrays(@TempDir Path tmp) throws Exception {
        Path dir = TinyCheckpoints.builder("qwen2_moe").hidden(128).vocab(64).write(tmp.resolve("tiny"));
        int[][] rows = new int[2][128];
        for (int r = 0; r < 2; r++) {
            for (int t = 0; t < 128; t++) {
                rows[r][t] = (7 * t + 13 * r + 1) % 64;
            }
        }
        TokenBatch batch = TokenBatch.of(rows);
        int threads = -1;
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            threads = JniUtils.getNumThreads();
            JniUtils.setNumThreads(1);   // tiny ops: one thread avoids OpenMP barrier stalls on a busy machine
            float[] first = new float[1];
            for (int i = 0; i < 300; i++) {
                lm.run(List.of(batch), ForwardObserver.NONE, (b, t, l) -> first[0] = l.getFloat(0, 5, 7));
            }
            int arrays = lm.manager().getManagedArrays().size();
            System.gc();
            long rss = rssKb();
            float[] last = new float[1];
            for (int i = 0; i < 1000; i++) {
                lm.run(List.of(batch), ForwardObserver.NONE, (b, t, l) -> last[0] = l.getFloat(0, 5, 7));
            }
            System.gc();
            assertEquals(first[0], last[0], "forwards are deterministic");
            assertEquals(arrays, lm.manager().getManagedArrays().size(), "arrays held by the model's manager");
            long grown = rssKb() - rss;
            assertTrue(grown < 96 * 1024, "resident memory grew by " + grown + " kB over 1000 forwards");
        } finally {
            if (threads > 0) {
                JniUtils.setNumThreads(threads);
            }
        }
    }

    @Test
    void protocolTokenizationReproducesTheGoldenWindows() {
        try (TextWindows text = TextWindows.open(Goldens.model("mixtral-tiny"))) {
            assertEquals(1, text.bos());
            for (String domain : Goldens.DOMAINS) {
                int[][] got = text.windows(Goldens.data(domain + ".test.txt"), 256, 32);
                int[][] want = Goldens.windows("mixtral-tiny", domain);
                assertEquals(want.length, got.length, domain);
                for (int w = 0; w < want.length; w++) {
                    assertArrayEquals(want[w], got[w], domain + " window " + w);
                }
            }
        }
    }

    @Test
    void fp16PathScoresCloseToFp32() {
        int[][] windows = Arrays.copyOf(Goldens.windows("mixtral-tiny", "python"), 4);
        double[] ppl = new double[2];
        Precision[] precisions = {Precision.FP32, Precision.FP16};
        for (int i = 0; i < 2; i++) {
            RuntimeOptions o = new RuntimeOptions(RuntimeOptions.parseDevice("cpu"), precisions[i], false, 4);
            try (CausalLm lm = CausalLm.open(Goldens.model("mixtral-tiny"), o)) {
                ppl[i] = Math.exp(new Evaluator(lm, null, ForwardObserver.NONE).score(windows, (d, t) -> { }).meanNll());
            }
        }
        assertTrue(ppl[0] != ppl[1], "fp16 really ran in fp16");
        assertEquals(ppl[0], ppl[1], 0.01 * ppl[0], "fp16 perplexity within 1% of fp32");
    }

    @Test
    void optionsRejectBadValuesAndUnknownDevices() {
        assertThrows(IllegalArgumentException.class,
                () -> new RuntimeOptions(RuntimeOptions.parseDevice("cpu"), Precision.FP32, false, 0));
        assertThrows(IllegalArgumentException.class, () -> RuntimeOptions.parseDevice("tpu:0"));
        assertEquals(3, RuntimeOptions.parseDevice("cuda:3").getDeviceId());
        assertEquals(Precision.FP16, Precision.parse("float16"));
    }

    private static float[][] logits(String model, RuntimeOptions o, List<TokenBatch> batches) {
        float[][] out = new float[batches.size()][];
        try (CausalLm lm = CausalLm.open(Goldens.model(model), o)) {
            lm.run(batches, ForwardObserver.NONE, (b, t, l) -> out[b] = l.toFloatArray());
        }
        return out;
    }

    private static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
