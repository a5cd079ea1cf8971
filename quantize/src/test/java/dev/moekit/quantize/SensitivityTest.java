package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.quantize.Sensitivity.Proxy;
import dev.moekit.quantize.alloc.BudgetAllocator;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The measured sensitivity on mixtral-tiny's real activations, against the old weight-error proxy. */
class SensitivityTest {
    static final Path DATA = TestWeights.MIXTRAL.getParent().resolveSibling("data");
    static final List<QuantScheme> WIDTHS = List.of(new QuantScheme(2, 128, true), new QuantScheme(3, 128, true));
    static Sensitivity output;

    @BeforeAll
    static void measure() {
        CalibrationOptions co = CalibrationOptions.defaults(DATA).withWindows(128, 1); // 4 windows, 512 tokens
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            output = SensitivityProbe.measure(in, QuantOptions.defaults("compressed-tensors"), WIDTHS, Proxy.OUTPUT, co,
                    RuntimeOptions.cpu(), Progress.NONE);
        }
    }

    /** Error removed per weight going from 2 to 3 bits, summed over the modules {@code which} picks. */
    private static double gainPerWeight(Predicate<LinearModule> which, boolean weightProxy) {
        double gain = 0;
        long params = 0;
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            for (LinearModule m : ModuleCatalog.of(in, ModelSpec.of(in)).linears()) {
                if (!which.test(m)) {
                    continue;
                }
                params += m.params();
                if (weightProxy) { // the old proxy: ||W - RTN_b(W)||^2, experts weighted by relative usage (1 on average)
                    float[] w = Weights.read(in, m);
                    gain += squaredError(w, 2, m) - squaredError(w, 3, m);
                } else {
                    gain += output.error(m.module(), 2) - output.error(m.module(), 3);
                }
            }
        }
        return gain / params;
    }

    private static double squaredError(float[] w, int bits, LinearModule m) {
        float[] q = Rtn.quantize(w, m.rows(), m.cols(), new QuantScheme(bits, 128, true), DType.F32).dequantize();
        double e = 0;
        for (int i = 0; i < w.length; i++) {
            e += (w[i] - q[i]) * (double) (w[i] - q[i]);
        }
        return e;
    }

    @Test
    void measuredProxyRanksAttentionValueAndOutputAboveLayerZeroExpertsWhereTheWeightProxyRanksThemBelow() {
        Predicate<LinearModule> vo = m -> m.layer() == 0 && (m.role() == Role.V || m.role() == Role.O);
        Predicate<LinearModule> experts0 = m -> m.layer() == 0 && m.role().kind() == Role.Kind.ROUTED_EXPERT;
        double measuredVo = gainPerWeight(vo, false);
        double measuredExperts = gainPerWeight(experts0, false);
        double weightVo = gainPerWeight(vo, true);
        double weightExperts = gainPerWeight(experts0, true);
        System.out.printf("gain per weight 2->3 bits: measured v/o %.3e experts %.3e; weight proxy v/o %.3e experts %.3e%n",
                measuredVo, measuredExperts, weightVo, weightExperts);
        assertTrue(measuredVo > 2 * measuredExperts, "measured: a bit on layer 0's v/o is worth more than on its experts");
        assertTrue(weightVo < weightExperts, "the old proxy had it the other way round");
    }

    @Test
    void errorsFallWithBitsAndRoutingIsCountedPerToken() {
        assertEquals(Proxy.OUTPUT, output.proxy());
        assertEquals(4 * 128, output.tokens(), "4 windows of 128 tokens, no padding");
        assertEquals(6, output.usage().tokens().size());
        output.usage().tokens().forEach((layer, counts) ->
                assertEquals(2L * 4 * 128, java.util.Arrays.stream(counts).sum(), "top-2 choices per token, layer " + layer));
        assertEquals(6 * (4 + 3 * 8), output.errors().size(), "every selected linear of mixtral-tiny");
        output.errors().forEach((module, e) -> assertTrue(e[0] > e[1] && e[1] > 0, module + ": " + e[0] + " at 2 bits, " + e[1] + " at 3"));
        assertTrue(output.unmeasured().isEmpty());
    }

    @Test
    void theSolverRefusesToRunWithoutTheMeasurementItNeeds() {
        QuantOptions o = QuantOptions.defaults("compressed-tensors")
                .withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(3.0, List.of(2, 3, 4, 8))));
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Quantizer.plan(in, o, null));
            assertTrue(e.getMessage().contains("calibration") && e.getMessage().contains("proxy"), e.getMessage());
        }
    }
}
