package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.quantize.format.QuantizedCheckpoint;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizeStageTest {
    @TempDir
    Path tmp;

    private static final QuantizeStage STAGE = new QuantizeStage();

    static StageContext context() {
        return new StageContext(TestWeights.MIXTRAL, new CalibrationSettings(List.of(), 1, 16, false), "cpu", 0, Events.NONE);
    }

    private static QuantizeStage.Parameters bind(String json) throws Exception {
        return STAGE.bind(Json.STRICT.readTree(json));
    }

    private static Plan plan(QuantizeStage.Parameters p) {
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            return STAGE.plan(p, new PlanInput(Layout.of(c), TestWeights.MIXTRAL, List.of()), context());
        }
    }

    @Test
    void isRegisteredAsAStage() {
        assertTrue(Methods.standard().kind(StageType.KIND).get("quantize") instanceof QuantizeStage);
    }

    @Test
    void recipeParametersBindAndRun() throws Exception {
        QuantizeStage.Parameters p = bind("""
                {"format": "gptq", "bits": 4, "group_size": 64,
                 "rules": [{"targets": ["kind:routed_expert"], "bits": 2}]}""");
        Plan plan = plan(p);
        Path out = tmp.resolve("out");
        JsonNode report = STAGE.run(p, plan, TestWeights.MIXTRAL, List.of(), out, context());
        assertTrue(report.path("averageBits").asDouble() < 2.5, "experts dominate at 2 bits: " + report.path("averageBits"));
        try (QuantizedCheckpoint q = QuantizedCheckpoint.open(out)) {
            assertEquals(2, q.checkpoint().config().path(PackedFormat.CONFIG_KEY).path("bits").asInt());
            assertEquals(64, q.checkpoint().config().path(PackedFormat.CONFIG_KEY).path("group_size").asInt());
            // the plan was exact: the same tensors, dtypes, shapes and config as written
            Checkpoint written = q.checkpoint();
            assertTrue(plan.output().exact());
            assertEquals(written.names().stream().map(n -> TensorSpec.of(written.info(n)).toString()).sorted().toList(),
                    plan.output().tensors().stream().map(TensorSpec::toString).sorted().toList());
            assertEquals(written.config(), plan.output().config());
        }
        assertTrue(Files.isRegularFile(out.resolve("quantize_config.json")), "GPTQ loaders' file stays");
        assertFalse(Files.exists(out.resolve("quantization_report.json")), "the report goes to the provenance");
        // what the report file held is the stage report now, with sizes and the lines the CLI prints
        assertEquals("gptq", report.path("format").asText());
        assertEquals(plan.details().path("modules").asInt(), report.path("modules").size());
        assertTrue(report.path("kept").toString().contains("block_sparse_moe.gate"), "routers are listed as kept");
        assertTrue(report.path("checkpointBytesOut").asLong() < report.path("checkpointBytesIn").asLong());
        assertEquals(0, report.path("fallbackModules").size());
        assertTrue(report.path("summary").size() >= 3, report.path("summary").toString());
        assertEquals(plan.details().path("average_bits").asDouble(), report.path("averageBits").asDouble(), 1e-12, "planned bits are the run's");
        assertEquals(plan.details().path("average_stored_bits").asDouble(), report.path("averageStoredBits").asDouble(), 1e-12);
    }

    @Test
    void gptqWithoutCalibrationFallsBackAndTheReportSaysWhy() throws Exception {
        QuantizeStage.Parameters p = bind("{\"method\": \"gptq\", \"targets\": [\"kind:attention\"]}");
        assertTrue(STAGE.needsCalibration(p));
        Plan plan = plan(p);
        assertTrue(plan.calibrates());
        StageContext none = new StageContext(TestWeights.MIXTRAL, null, "cpu", 0, Events.NONE);
        JsonNode report = STAGE.run(p, plan, TestWeights.MIXTRAL, List.of(), tmp.resolve("out"), none);
        assertEquals(report.path("modules").size(), report.path("fallbackModules").size());
        assertEquals("no calibration data", report.path("fallbackModules").get(0).path("reason").asText());
        assertTrue(report.path("summary").toString().contains("RTN fallbacks"), report.path("summary").toString());
    }

    @Test
    void resolvedParametersAreExplicitAndBindBack() throws Exception {
        QuantizeStage.Parameters p = bind("{\"method\": \"GPTQ\", \"format\": \"fake\", \"average_bits\": 3}");
        assertEquals("gptq", p.method());
        assertEquals("fake-quant", p.format());
        assertEquals(List.of(2, 3, 4, 8), p.candidateBits());
        assertEquals(0.01, p.dampPercent());
        assertEquals(128L, p.minTokens());
        assertEquals(true, p.allExperts(), "GPTQ calibrates every expert by default");
        assertEquals("auto", p.proxy());
        assertTrue(STAGE.needsCalibration(bind("{\"average_bits\": 3}")), "the solver's default proxy is measured");
        assertFalse(STAGE.needsCalibration(bind("{\"average_bits\": 3, \"proxy\": \"weight\"}")));
        assertFalse(p.uniformExpertBits(), "fake-quant: experts may differ");
        assertEquals(p, STAGE.bind(Params.toJson(p)));
        QuantizeStage.Parameters rtn = bind("{}");
        assertEquals("rtn", rtn.method());
        assertEquals(null, rtn.dampPercent(), "rtn takes no GPTQ keys");
        assertEquals(null, rtn.allExperts());
        assertEquals(null, rtn.proxy(), "no solver, no proxy");
        assertTrue(rtn.uniformExpertBits());
    }

    @Test
    void plansAreEstimatesOnlyWhenBitsComeFromTheWeights() throws Exception {
        Plan budget = plan(bind("{\"average_bits\": 3.0}"));
        assertFalse(budget.output().exact());
        assertFalse(budget.details().path("bits_known").asBoolean());
        assertEquals(3.0, budget.details().path("average_bits_limit").asDouble());
        Plan heuristic = plan(bind("{\"quantmoe\": \"4/2\", \"format\": \"fake-quant\"}"));
        assertTrue(heuristic.output().exact());
        JsonNode experts = heuristic.details().path("bits_by_kind").path("routed_expert");
        assertTrue(experts.has("2") && experts.size() == 1, "routed experts low: " + experts);
        assertTrue(heuristic.details().path("bits_by_kind").path("attention").has("4"));
        assertTrue(heuristic.details().path("average_bits").asDouble() > 2 && heuristic.details().path("average_bits").asDouble() < 2.5);
    }

    @Test
    void theMeasuredSolverWithoutCalibrationFailsNamingTheProxy() throws Exception {
        QuantizeStage.Parameters p = bind("{\"average_bits\": 3.0}");
        Plan plan = plan(p);
        assertTrue(plan.calibrates());
        StageContext none = new StageContext(TestWeights.MIXTRAL, null, "cpu", 0, Events.NONE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> STAGE.run(p, plan, TestWeights.MIXTRAL, List.of(), tmp.resolve("out"), none));
        assertTrue(e.getMessage().contains("proxy") && e.getMessage().contains("calibration"), e.getMessage());
        assertFalse(java.nio.file.Files.exists(tmp.resolve("out").resolve("config.json")), "no half-written output");
        assertMessage("{\"proxy\": \"weight\"}", "proxy", "average_bits");
        assertMessage("{\"average_bits\": 3, \"proxy\": \"fisher\"}", "proxy", "output");
    }

    @Test
    void badParametersFailAtRecipeLoad() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> bind("{\"bits\": 1}"));
        assertEquals(5, bind("{\"bits\": 5}").bits(), "5 bits pack into compressed-tensors' int32 words");
        assertMessage("{\"format\": \"gptq\", \"bits\": 6}", "bits", "gptq format stores 2, 3, 4 or 8");
        assertMessage("{\"format\": \"gptq\", \"average_bits\": 3, \"candidate_bits\": [2, 5]}", "candidate_bits", "5");
        assertMessage("{\"format\": \"gptq\", \"mixture\": 6}", "mixture", "6");
        assertMessage("{\"mixture\": 6, \"quantmoe\": \"4/2\"}", "mixture", "not several");
        assertMessage("{\"importance\": true, \"method\": \"gptq\"}", "importance", "rtn");
        assertTrue(bind("{\"importance\": true}").quantizer().needsCalibration(), "importance-weighted RTN calibrates");
        assertFalse(bind("{\"clip_search\": true}").quantizer().needsCalibration(), "clipping search alone is data-free");
        assertEquals(Boolean.TRUE, bind("{\"method\": \"gptq\", \"clip_search\": true}").clipSearch());
        assertThrows(IllegalArgumentException.class, () -> bind("{\"format\": \"awq\"}"));
        assertThrows(IllegalArgumentException.class, () -> bind("{\"bitz\": 4}"));
        assertThrows(IllegalArgumentException.class, () -> bind("{\"average_bits\": 3, \"quantmoe\": \"4/2\"}"));
        assertMessage("{\"bits\": 9}", "bits", "2, 3, 4, 5, 6, 7 or 8");
        assertMessage("{\"method\": \"gptqq\"}", "method", "did you mean 'gptq'", "known: gptq, rtn");
        assertMessage("{\"format\": \"gptqq\"}", "format", "did you mean 'gptq'", "compressed-tensors");
        assertMessage("{\"rules\": [{\"targets\": [\"kind:attention\"], \"bits\": 9}]}", "rules[0].bits", "16");
        assertMessage("{\"damp_percent\": 0.02}", "damp_percent", "gptq", "rtn");
        assertMessage("{\"method\": \"gptq\", \"damp_percent\": 2}", "damp_percent", "(0, 1)");
        assertMessage("{\"method\": \"gptq\", \"group_size\": 96}", "block size", "96");
        assertMessage("{\"quantmoe\": \"4-2\"}", "quantmoe", "high/low");
        assertMessage("{\"quantmoe\": \"9/2\"}", "quantmoe", "9");
        assertMessage("{\"candidate_bits\": [2, 4]}", "candidate_bits", "average_bits");
        assertMessage("{\"average_bits\": 3, \"candidate_bits\": [2, 9]}", "candidate_bits", "9");
    }

    @Test
    void candidateSchemesBindResolvedAndAreChecked() throws Exception {
        QuantizeStage.Parameters p = bind("{\"average_bits\": 3, \"candidate_schemes\": [\"int4\", \"INT2/g64/asym\", \"int3/channel\"]}");
        assertEquals(List.of("int2/g64/asym", "int3/channel/sym", "int4/g128/sym"), p.candidateSchemes(), "parsed, sorted by bits, written in full");
        assertEquals(null, p.candidateBits(), "the schemes replace candidate_bits");
        assertEquals(p, STAGE.bind(Params.toJson(p)));
        assertEquals(List.of(new QuantScheme(2, 64, false), new QuantScheme(3, 0, true), new QuantScheme(4, 128, true)),
                p.allocation().candidates(new QuantScheme(4, 128, true)));
        assertMessage("{\"candidate_schemes\": [\"int2\"]}", "candidate_schemes", "average_bits");
        assertMessage("{\"average_bits\": 3, \"candidate_schemes\": [\"int3\", \"int2/g64/asim\"]}", "candidate_schemes[1]", "int2/g64/asym");
        assertMessage("{\"average_bits\": 3, \"candidate_schemes\": [\"int9\"]}", "candidate_schemes[0]", "9");
        assertMessage("{\"average_bits\": 3, \"candidate_schemes\": [\"int2\"], \"candidate_bits\": [2]}", "not both");
        assertMessage("{\"format\": \"gptq\", \"average_bits\": 3, \"candidate_schemes\": [\"int2\", \"int5/g64\"]}", "candidate_schemes", "5");
        assertMessage("{\"method\": \"gptq\", \"average_bits\": 3, \"candidate_schemes\": [\"int2/g96\"]}", "block size", "96");
        assertMessage("{\"average_bits\": 3, \"candidate_schemes\": []}", "candidate_schemes", "at least one");
    }

    @Test
    void kQuantSchemesAreFakeQuantOnlyAndShortRowsFallBack() throws Exception {
        QuantizeStage.Parameters p = bind("{\"format\": \"fake-quant\", \"scheme\": \"Q4_K\"}");
        assertEquals(QuantScheme.parse("k", "q4_k"), p.defaultScheme());
        assertEquals("int4/g32/asym/k6", p.scheme(), "written in full");
        assertEquals(p, STAGE.bind(Params.toJson(p)), "binds back with bits, group size and symmetry repeated");
        assertMessage("{\"scheme\": \"q4_k\"}", "scheme", "compressed-tensors", "fake-quant");
        assertMessage("{\"format\": \"gptq\", \"scheme\": \"q4_k\"}", "scheme", "gptq");
        assertMessage("{\"format\": \"fake-quant\", \"scheme\": \"q4_k\", \"bits\": 3}", "scheme", "not both");
        assertMessage("{\"average_bits\": 3, \"candidate_schemes\": [\"q2_k\", \"int4\"]}", "candidate_schemes", "quantized sub-block scales");
        assertMessage("{\"format\": \"fake-quant\", \"method\": \"gptq\", \"scheme\": \"q4_k\", \"act_order\": true}", "act_order");
        // qwen2moe-tiny's expert down projections have 128 inputs, half a super-block: Q4_K's fallback, Q5_0
        QuantizeStage.Parameters q = bind("{\"format\": \"fake-quant\", \"scheme\": \"q4_k\", \"targets\": [\"re:model\\\\.layers\\\\.0\\\\..*\"]}");
        StageContext ctx = new StageContext(TestWeights.QWEN, null, "cpu", 0, Events.NONE);
        Plan plan;
        try (Checkpoint c = Checkpoint.open(TestWeights.QWEN)) {
            plan = STAGE.plan(q, new PlanInput(Layout.of(c), TestWeights.QWEN, List.of()), ctx);
        }
        JsonNode report = STAGE.run(q, plan, TestWeights.QWEN, List.of(), tmp.resolve("k"), ctx);
        int down = 0;
        int fitted = 0;
        long stored = 0;
        long params = 0;
        for (JsonNode m : report.path("modules")) {
            String name = m.path("module").asText();
            boolean shortRows = name.contains(".experts.") && name.endsWith("down_proj");
            assertEquals(shortRows ? "int5/g32/sym" : "int4/g32/asym/k6", m.path("scheme").asText(), name);
            down += shortRows ? 1 : 0;
            fitted += shortRows ? 0 : 1;
            stored += m.path("storedBits").asLong();
            params += m.path("params").asLong();
            if (!shortRows) {
                assertEquals(m.path("params").asLong() * 4.5, m.path("storedBits").asDouble(), 0, name + ": GGUF's Q4_K block, 144 bytes a 256 weights");
            }
        }
        assertEquals(32, down, "every routed expert's down projection");
        assertTrue(fitted >= 32 * 2 + 4, "gate/up projections and attention keep Q4_K: " + fitted);
        assertEquals((double) stored / params, report.path("averageStoredBits").asDouble(), 1e-9);
    }

    @Test
    void codebookSchemesAreFakeQuantOnlyAndWriteTheirCodebooksValues() throws Exception {
        QuantizeStage.Parameters p = bind("{\"format\": \"fake-quant\", \"scheme\": \"int2/channel/vq2\", \"targets\": [\"re:model\\\\.layers\\\\.1\\\\.block_sparse_moe\\\\..*\"]}");
        assertEquals(QuantScheme.parse("k", "int2/channel/vq2"), p.defaultScheme());
        assertEquals(p, STAGE.bind(Params.toJson(p)), "binds back");
        assertMessage("{\"scheme\": \"int2/channel/vq2\"}", "scheme", "compressed-tensors", "codebooks", "fake-quant");
        assertMessage("{\"format\": \"fake-quant\", \"method\": \"gptq\", \"scheme\": \"int2/g128/vq2\", \"act_order\": true}", "act_order");
        assertMessage("{\"format\": \"fake-quant\", \"scheme\": \"int4/channel/vq4\"}", "scheme", "8 bits");
        StageContext ctx = new StageContext(TestWeights.MIXTRAL, null, "cpu", 0, Events.NONE);
        Plan plan;
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            plan = STAGE.plan(p, new PlanInput(Layout.of(c), TestWeights.MIXTRAL, List.of()), ctx);
        }
        Path out = tmp.resolve("vq");
        JsonNode report = STAGE.run(p, plan, TestWeights.MIXTRAL, List.of(), out, ctx);
        int experts = 0;
        for (JsonNode m : report.path("modules")) {
            assertEquals("int2/channel/vq2", m.path("scheme").asText(), m.path("module").asText());
            experts++;
        }
        assertTrue(experts >= 8 * 3, "every expert projection of layer 1: " + experts);
        try (Checkpoint c = Checkpoint.open(out); Checkpoint orig = Checkpoint.open(TestWeights.MIXTRAL)) {
            String name = "model.layers.1.block_sparse_moe.experts.3.w1.weight";
            float[] v = c.floats(name);
            float[] w = orig.floats(name);
            int cols = 256;
            double err = 0;
            double norm = 0;
            for (int i = 0; i < v.length; i++) {
                err += (w[i] - v[i]) * (double) (w[i] - v[i]);
                norm += (double) w[i] * w[i];
            }
            for (int r = 0; r < v.length / cols; r++) { // each row: its scale times at most 16 distinct vectors, shared by all rows
                java.util.Set<Long> vectors = new java.util.HashSet<>();
                for (int j = 0; j < cols; j += 2) {
                    vectors.add(((long) Float.floatToIntBits(v[r * cols + j]) << 32) | (Float.floatToIntBits(v[r * cols + j + 1]) & 0xffffffffL));
                }
                assertTrue(vectors.size() <= 16, name + " row " + r + " holds " + vectors.size() + " distinct pairs");
            }
            assertTrue(err / norm < 0.2, name + ": relative error " + err / norm);
        }
    }

    private static void assertMessage(String json, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bind(json), json);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), json + ": '" + e.getMessage() + "' should mention " + part);
        }
    }
}
