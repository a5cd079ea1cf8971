package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.pipeline.stage.CommitContext;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quantize stage split into work units writes the bytes of the whole-checkpoint run, whatever the split: RTN
 * layer units are independent, calibrated GPTQ chains its layer units (sequential inputs) or feeds them the original
 * model's activations (inputs: original).
 */
class QuantizeUnitsTest {
    private static final QuantizeStage STAGE = new QuantizeStage();
    private static final Path DATA = TestWeights.MIXTRAL.getParent().resolveSibling("data");

    @TempDir
    Path tmp;

    private static StageContext context(boolean calibrate) {
        CalibrationSettings cal = calibrate
                ? new CalibrationSettings(List.of(DATA.resolve("python.valid.txt").toString(), DATA.resolve("misc.valid.txt").toString()), 2, 64, false)
                : null;
        return new StageContext(TestWeights.MIXTRAL, cal, "cpu", 0, Events.NONE);
    }

    private static QuantizeStage.Parameters bind(String json) throws Exception {
        return STAGE.bind(Json.STRICT.readTree(json));
    }

    private static Plan plan(QuantizeStage.Parameters p, StageContext ctx) {
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            return STAGE.plan(p, new PlanInput(Layout.of(c), TestWeights.MIXTRAL, List.of()), ctx);
        }
    }

    /** Runs every unit as the job runner does (temporary folder renamed into units/), then commits; returns the report. */
    private JsonNode runUnits(QuantizeStage.Parameters p, StageContext ctx, Path out) throws Exception {
        Plan plan = plan(p, ctx);
        Path units = Files.createDirectories(out.resolveSibling(out.getFileName() + ".units"));
        Map<String, StageType.UnitResult> done = new LinkedHashMap<>();
        for (WorkUnit u : plan.units()) {
            for (String a : u.after()) {
                assertTrue(done.containsKey(a), u.id() + " runs after " + a);
            }
            Path t = Files.createDirectories(units.resolve("." + u.id() + ".tmp"));
            JsonNode rep = STAGE.execute(p, plan, u, new UnitContext(TestWeights.MIXTRAL, List.of(), t, ctx));
            Path d = Files.move(t, units.resolve(u.id()));
            done.put(u.id(), new StageType.UnitResult(d, rep));
        }
        return STAGE.commit(p, plan, done, new CommitContext(TestWeights.MIXTRAL, List.of(), out, ctx));
    }

    static Map<String, String> hashes(Path ckpt) throws Exception {
        Map<String, String> h = new TreeMap<>();
        try (var fs = Files.list(ckpt)) {
            for (Path f : fs.toList()) {
                h.put(f.getFileName().toString(), Fingerprint.content(f));
            }
        }
        return h;
    }

    @Test
    void rtnLayerUnitsAreIndependentAndWriteTheBytesOfTheWholeRun() throws Exception {
        QuantizeStage.Parameters one = bind("{\"bits\": 4, \"group_size\": 32, \"layers_per_unit\": 1}");
        QuantizeStage.Parameters all = bind("{\"bits\": 4, \"group_size\": 32, \"layers_per_unit\": 64}");
        StageContext ctx = context(false);
        Plan plan = plan(one, ctx);
        int layers;
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            layers = c.config().path("num_hidden_layers").asInt();
        }
        assertEquals(layers + 1, plan.units().size(), "one unit per layer and one for the rest: " + plan.toJson());
        assertTrue(plan.units().stream().allMatch(u -> u.after().isEmpty()), "RTN units do not wait for each other");
        JsonNode whole = STAGE.run(all, plan(all, ctx), TestWeights.MIXTRAL, List.of(), tmp.resolve("whole"), ctx);
        JsonNode split = runUnits(one, ctx, tmp.resolve("split"));
        JsonNode single = runUnits(all, ctx, tmp.resolve("single"));
        assertEquals(hashes(tmp.resolve("whole")), hashes(tmp.resolve("split")));
        assertEquals(hashes(tmp.resolve("whole")), hashes(tmp.resolve("single")));
        assertEquals(whole, split, "the merged report is the whole run's");
        assertEquals(whole, single);
    }

    @Test
    void calibratedGptqUnitsWriteTheSameBytesForAnySplitInBothInputModes() throws Exception {
        StageContext ctx = context(true);
        String base = "\"method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"min_tokens\": 8, \"targets\": [\"kind:attention\"]";
        QuantizeStage.Parameters one = bind("{" + base + ", \"layers_per_unit\": 2}");
        QuantizeStage.Parameters all = bind("{" + base + ", \"layers_per_unit\": 64}");
        Plan seq = plan(one, ctx);
        List<WorkUnit> layerUnits = seq.units().stream().filter(u -> u.id().startsWith("layers-")).toList();
        for (int i = 1; i < layerUnits.size(); i++) {
            assertEquals(List.of(layerUnits.get(i - 1).id()), layerUnits.get(i).after(), "sequential GPTQ chains the layers");
        }
        JsonNode whole = STAGE.run(all, plan(all, ctx), TestWeights.MIXTRAL, List.of(), tmp.resolve("whole"), ctx);
        JsonNode split = runUnits(one, ctx, tmp.resolve("split"));
        assertEquals(hashes(tmp.resolve("whole")), hashes(tmp.resolve("split")), "sequential units reproduce the one-pass GPTQ");
        assertEquals(whole, split);
        assertTrue(whole.path("modules").get(0).path("method").asText().equals("gptq"), whole.path("modules").get(0).toString());

        QuantizeStage.Parameters oneOrig = bind("{" + base + ", \"layers_per_unit\": 2, \"inputs\": \"original\"}");
        QuantizeStage.Parameters allOrig = bind("{" + base + ", \"layers_per_unit\": 64, \"inputs\": \"original\"}");
        Plan orig = plan(oneOrig, ctx);
        assertTrue(orig.units().stream().filter(u -> u.id().startsWith("layers-")).allMatch(u -> u.after().equals(List.of("inputs"))),
                "inputs: original makes the layer units independent of each other: " + orig.toJson());
        JsonNode origSplit = runUnits(oneOrig, ctx, tmp.resolve("orig-split"));
        runUnits(allOrig, ctx, tmp.resolve("orig-single"));
        assertEquals(hashes(tmp.resolve("orig-single")), hashes(tmp.resolve("orig-split")));
        // layer 0 sees the same inputs in both modes; later layers calibrate on the original activations instead
        Map<String, Double> errSeq = new TreeMap<>();
        Map<String, Double> errOrig = new TreeMap<>();
        split.path("modules").forEach(m -> errSeq.put(m.path("module").asText(), m.path("relativeError").asDouble()));
        origSplit.path("modules").forEach(m -> errOrig.put(m.path("module").asText(), m.path("relativeError").asDouble()));
        String q0 = "model.layers.0.self_attn.q_proj";
        String q1 = "model.layers.1.self_attn.q_proj";
        assertEquals(errSeq.get(q0), errOrig.get(q0), errSeq.keySet().toString());
        assertTrue(!errSeq.get(q1).equals(errOrig.get(q1)), "layer 1 calibrates on other inputs");
    }

    /**
     * GPTQ calibrates every routed expert on every token by default in work units too (the path the CLI, recipes and
     * batch jobs take): on 256 calibration tokens the rarely routed experts of mixtral-tiny would otherwise see fewer
     * than the 128 tokens GPTQ needs and fall back to RTN.
     */
    @Test
    void gptqUnitsCalibrateEveryExpertOnEveryTokenByDefault() throws Exception {
        StageContext ctx = context(true);
        String base = "\"method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"targets\": [\"kind:routed_expert\"], \"layers_per_unit\": 3";
        JsonNode dflt = runUnits(bind("{" + base + "}"), ctx, tmp.resolve("default"));
        List<String> fellBack = new java.util.ArrayList<>();
        dflt.path("modules").forEach(m -> {
            if (!m.path("method").asText().equals("gptq")) {
                fellBack.add(m.path("module").asText() + ": " + m.path("fallback").asText());
            }
        });
        assertTrue(dflt.path("modules").size() > 0 && fellBack.isEmpty(), "every expert is calibrated by GPTQ; " + fellBack.size() + " fell back, e.g. " + fellBack.stream().limit(3).toList());
        JsonNode routed = runUnits(bind("{" + base + ", \"all_experts\": false}"), ctx, tmp.resolve("routed"));
        long rtn = 0;
        for (JsonNode m : routed.path("modules")) {
            rtn += m.path("method").asText().equals("rtn") ? 1 : 0;
        }
        assertTrue(rtn > 0, "on its routed tokens only, some expert sees fewer than 128 tokens and falls back");
    }
}
