package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.quantize.method.GptqDevice;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quantize stage with {@code gptq_device: runtime} on a CPU runtime (Hessians and GPTQ through DJL's CPU engine,
 * the code GPUs run) against {@code gptq_device: host}: the same modules, methods and calibration rows, and the same
 * quality. Not the same bytes: the Gram and the inverse factor sum in other orders (about 1e-7 relative), a code on a
 * rounding boundary flips, GPTQ's error feedback carries the flip along its row, and later layers calibrate on the
 * slightly different outputs; on 256 calibration tokens most codes of layers past the first end up differing. So the
 * test holds the per-module weight errors (within 3%, 0.5% on average) and the KL to the original on two test windows
 * (within 20%: measured 0.0136 vs 0.0148, two equally good quantizations that differ in their codes).
 */
class QuantizeStageDeviceTest {
    private static final QuantizeStage STAGE = new QuantizeStage();
    private static final Path DATA = TestWeights.MIXTRAL.getParent().resolveSibling("data");

    @TempDir
    Path tmp;

    private static StageContext context() {
        CalibrationSettings cal = new CalibrationSettings(List.of(DATA.resolve("python.valid.txt").toString(), DATA.resolve("misc.valid.txt").toString()), 2, 64, false);
        return new StageContext(TestWeights.MIXTRAL, cal, "cpu", 0, Events.NONE);
    }

    private static QuantizeStage.Parameters bind(String json) throws Exception {
        return STAGE.bind(Json.STRICT.readTree(json));
    }

    private JsonNode run(String device, Path out) throws Exception {
        QuantizeStage.Parameters p = bind("{\"method\": \"gptq\", \"format\": \"fake-quant\", \"bits\": 4, \"group_size\": 64, \"act_order\": true,"
                + " \"min_tokens\": 16, \"gptq_device\": \"" + device + "\"}");
        assertEquals(GptqDevice.valueOf(device.toUpperCase()), p.gptqDevice());
        StageContext ctx = context();
        Plan plan;
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            plan = STAGE.plan(p, new PlanInput(Layout.of(c), TestWeights.MIXTRAL, List.of()), ctx);
        }
        return STAGE.run(p, plan, TestWeights.MIXTRAL, List.of(), out, ctx);
    }

    @Test
    void runtimeOnCpuMatchesHostUpToRounding() throws Exception {
        JsonNode host = run("host", tmp.resolve("host"));
        JsonNode dev = run("runtime", tmp.resolve("runtime"));
        assertEquals(host.path("modules").size(), dev.path("modules").size());
        double sumHost = 0;
        double sumDev = 0;
        double worst = 0;
        for (int i = 0; i < host.path("modules").size(); i++) {
            JsonNode a = host.path("modules").get(i);
            JsonNode b = dev.path("modules").get(i);
            String name = b.path("module").asText();
            assertEquals(a.path("module").asText(), name);
            assertEquals("gptq", b.path("method").asText(), name);
            assertEquals(a.path("calibrationRows").asLong(), b.path("calibrationRows").asLong(), name);
            double ea = a.path("relativeError").asDouble();
            double eb = b.path("relativeError").asDouble();
            sumHost += ea;
            sumDev += eb;
            worst = Math.max(worst, Math.abs(ea - eb) / ea);
        }
        double meanRel = Math.abs(sumDev - sumHost) / sumHost;
        List<Path> test = List.of(DATA.resolve("python.test.txt"));
        EvalOptions eo = EvalOptions.of(test).withWindows(128, 2).withReference(TestWeights.MIXTRAL);
        double klHost = Evaluator.evaluate(tmp.resolve("host"), eo, Progress.NONE).overallKl().mean();
        double klDev = Evaluator.evaluate(tmp.resolve("runtime"), eo, Progress.NONE).overallKl().mean();
        System.out.printf("gptq_device runtime vs host on CPU: module weight errors differ by %.3f%% on average, %.3f%% at worst; KL to the original %.5f vs %.5f%n",
                100 * meanRel, 100 * worst, klDev, klHost);
        assertTrue(meanRel < 5e-3, "mean module error " + sumDev + " vs host " + sumHost);
        assertTrue(worst < 0.03, "worst module error difference " + worst);
        assertTrue(Math.abs(klDev - klHost) < 0.2 * klHost, "KL " + klDev + " vs host " + klHost);
    }

    @Test
    void aBadGptqDeviceFailsNamingTheKey() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bind("{\"method\": \"gptq\", \"gptq_device\": \"gpu\"}"));
        assertTrue(e.getMessage().contains("gptq_device") && e.getMessage().contains("auto, host, runtime"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> bind("{\"method\": \"rtn\", \"gptq_device\": \"host\"}"));
        assertTrue(e.getMessage().contains("gptq_device is a parameter of method gptq"), e.getMessage());
        assertEquals(GptqDevice.RUNTIME, bind("{\"method\": \"gptq\", \"gptq_device\": \"RunTime\"}").gptqDevice(), "case is ignored");
        assertEquals(GptqDevice.AUTO, bind("{\"method\": \"gptq\"}").gptqDevice(), "auto by default");
        assertEquals("runtime", bind("{\"method\": \"gptq\", \"gptq_device\": \"runtime\"}").quantizer().paramsJson().path("gptq_device").asText());
    }
}
