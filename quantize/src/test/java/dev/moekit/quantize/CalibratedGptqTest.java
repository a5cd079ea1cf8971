package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.quantize.method.GptqQuantizer;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GPTQ on real activations of mixtral-tiny through the eval calibration pipeline, judged by KL to the original. */
class CalibratedGptqTest {
    static final Path DATA = TestWeights.MIXTRAL.getParent().resolveSibling("data");

    @TempDir
    Path tmp;

    @Test
    void calibratedGptqBeatsRtnOnKlDivergenceToTheOriginal() {
        QuantOptions rtn = QuantOptions.defaults("fake-quant").withScheme(new QuantScheme(3, 64, true));
        QuantOptions gptq = rtn.withMethod(BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(0.01, false, 128, 32L)));
        CalibrationOptions co = CalibrationOptions.defaults(DATA).withWindows(128, 4); // 16 windows, 2048 tokens
        CalibratedGptq.Result g;
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            g = CalibratedGptq.run(in, tmp.resolve("gptq"), gptq, co, RuntimeOptions.cpu(), Progress.NONE);
            Quantizer.run(in, tmp.resolve("rtn"), rtn, null);
        }
        QuantReport r = g.report();
        for (QuantReport.ModuleReport m : r.modules()) {
            if (m.role().kind() == Role.Kind.ATTENTION) {
                assertEquals("gptq", m.method(), m.module());
                assertEquals(2048, m.calibrationRows(), "every calibration token reaches attention: " + m.module());
            } else { // all_experts (the default): every expert's Hessian from every token, so none falls back
                assertEquals("gptq", m.method(), m.module());
                assertEquals(2048, m.calibrationRows(), "every calibration token reaches every expert: " + m.module());
            }
        }
        assertEquals(0, r.fallbacks());
        List<Path> test = List.of(DATA.resolve("python.test.txt"), DATA.resolve("misc.test.txt"));
        EvalOptions eo = EvalOptions.of(test).withWindows(128, 4).withReference(TestWeights.MIXTRAL);
        EvalResult eg = Evaluator.evaluate(tmp.resolve("gptq"), eo, Progress.NONE);
        EvalResult er = Evaluator.evaluate(tmp.resolve("rtn"), eo, Progress.NONE);
        System.out.printf("3-bit g64 KL to original: GPTQ %.4f, RTN %.4f%n", eg.overallKl().mean(), er.overallKl().mean());
        assertTrue(eg.overallKl().mean() < er.overallKl().mean(), "calibrated GPTQ must be closer to the original than RTN");
    }

    /** {@code refit}: GPTQ's grids refitted to its codes bring the 2-bit k-quant model closer to the original. */
    @Test
    void refittedGridsLowerTheKlOfTwoBitGptq() {
        QuantOptions base = QuantOptions.defaults("fake-quant").withScheme(QuantScheme.parse("scheme", "q2_k"));
        QuantOptions plain = base.withMethod(BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(null, null, null, null, null, null, null, false)));
        QuantOptions refit = base.withMethod(BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(null, null, null, null, null, null, null, true)));
        CalibrationOptions co = CalibrationOptions.defaults(DATA).withWindows(128, 4);
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            CalibratedGptq.run(in, tmp.resolve("plain"), plain, co, RuntimeOptions.cpu(), Progress.NONE);
            CalibratedGptq.run(in, tmp.resolve("refit"), refit, co, RuntimeOptions.cpu(), Progress.NONE);
        }
        List<Path> test = List.of(DATA.resolve("python.test.txt"), DATA.resolve("misc.test.txt"));
        EvalOptions eo = EvalOptions.of(test).withWindows(128, 4).withReference(TestWeights.MIXTRAL);
        double kp = Evaluator.evaluate(tmp.resolve("plain"), eo, Progress.NONE).overallKl().mean();
        double kr = Evaluator.evaluate(tmp.resolve("refit"), eo, Progress.NONE).overallKl().mean();
        System.out.printf("q2_k GPTQ KL to original: plain %.4f, refit %.4f%n", kp, kr);
        assertTrue(kr < 0.98 * kp, "refitted grids should lower the KL: " + kr + " vs " + kp);
    }
}
