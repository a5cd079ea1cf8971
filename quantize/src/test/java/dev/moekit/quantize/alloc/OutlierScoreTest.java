package dev.moekit.quantize.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.BoundAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantOptions;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.Quantizer;
import dev.moekit.quantize.TestWeights;
import dev.moekit.quantize.Weights;
import dev.moekit.toolkit.io.Checkpoint;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OutlierScoreTest {
    @Test
    void outlierScoreFollowsItsDefinitionAndPicksTheTopFraction() {
        float[] w = new float[4 * 3]; // [4, 3]
        java.util.Arrays.fill(w, 1f);
        w[2 * 3 + 1] = 9f; // column 1: max 9, mean (1+1+9+1)/4 = 3
        assertEquals(3.0, OutlierScore.of(w, 4, 3), 1e-12);
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            QuantOptions o = QuantOptions.defaults("fake-quant").withUniformExpertBits(false)
                    .withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(4, 2, false, false, 0, 0, 0.25)));
            Map<LinearModule, QuantScheme> plan = Quantizer.plan(in, o, null);
            List<Map.Entry<LinearModule, QuantScheme>> experts = plan.entrySet().stream().filter(e -> e.getKey().expert() >= 0).toList();
            long high = experts.stream().filter(e -> e.getValue().bits() == 4).count();
            assertEquals(Math.round(0.25 * experts.size()), high);
            double minHigh = experts.stream().filter(e -> e.getValue().bits() == 4).mapToDouble(e -> score(in, e.getKey())).min().orElseThrow();
            double maxLow = experts.stream().filter(e -> e.getValue().bits() == 2).mapToDouble(e -> score(in, e.getKey())).max().orElseThrow();
            assertTrue(minHigh >= maxLow, "high bits go to the highest outlier scores");
        }
    }

    private static double score(Checkpoint in, LinearModule m) {
        return OutlierScore.of(Weights.read(in, m), m.rows(), m.cols());
    }
}
