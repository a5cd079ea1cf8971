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
import org.junit.jupiter.api.Test;

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

    @Test
    void thousandForwardsDoNotGrowNativeMemoryOrManagedArrays() throws IOException {
        TokenBatch batch = TokenBatch.of(new int[][] {Arrays.copyOf(Goldens.windows("llama-tiny-seed", "dict")[0], 16)});
        try (CausalLm lm = CausalLm.open(Goldens.model("llama-tiny-seed"), RuntimeOptions.cpu())) {
            float[] first = new float[1];
            for (int i = 0; i < 100; i++) {
                lm.run(List.of(batch), ForwardObserver.NONE, (b, t, l) -> first[0] = l.getFloat(0, 0, 0));
            }
            int arrays = lm.manager().getManagedArrays().size();
            long rss = rssKb();
            float[] last = new float[1];
            for (int i = 0; i < 1000; i++) {
                lm.run(List.of(batch), ForwardObserver.NONE, (b, t, l) -> last[0] = l.getFloat(0, 0, 0));
            }
            assertEquals(first[0], last[0], "forwards are deterministic");
            assertEquals(arrays, lm.manager().getManagedArrays().size(), "arrays held by the model's manager");
            long grown = rssKb() - rss;
            assertTrue(grown < 64 * 1024, "resident memory grew by " + grown + " kB over 1000 forwards");
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
    void optionsRejectFp16OnCpuAndUnknownDevices() {
        assertThrows(IllegalArgumentException.class,
                () -> new RuntimeOptions(RuntimeOptions.parseDevice("cpu"), Precision.FP16, false, 4));
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
