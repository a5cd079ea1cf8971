package dev.moekit.prune.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.prune.expert.Allocation;
import dev.moekit.prune.expert.score.NaeePruner;
import dev.moekit.prune.expert.stun.DistanceMode;
import dev.moekit.prune.expert.stun.StunPruner;
import dev.moekit.prune.sparse.OwlSparsifier;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The prune and sparsify stages: flat keys split between stage and method, metadata-only plans, runs through the pipeline. */
class PruneStagesTest {
    private final PruneExpertsStage prune = new PruneExpertsStage();
    private final SparsifyStage sparsify = new SparsifyStage();

    @TempDir
    Path tmp;

    private static JsonNode json(String s) {
        try {
            return Json.STRICT.readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static Path mixtral() {
        return RefModels.model("mixtral-tiny").toAbsolutePath().normalize();
    }

    private static StageContext ctx() {
        return ctx(Events.NONE);
    }

    /** One calibration window of 64 tokens (STUN's default reads expert usage from it). */
    private static StageContext ctx(Events events) {
        String data = RefModels.shared().toAbsolutePath().normalize().resolve("data/python.valid.txt").toString();
        return new StageContext(mixtral(), new CalibrationSettings(List.of(data), 1, 64, false), "cpu", 0, events);
    }

    @Test
    void stageKeysAndMethodKeysSitSideBySide() {
        PruneExpertsStage.Parameters p = prune.bind(json("{\"method\": \"stun\", \"experts\": 0.25, \"distance\": \"mixed\", \"mix_weight\": 0.5}"));
        StunPruner.Parameters stun = assertInstanceOf(StunPruner.Parameters.class, p.methodParams());
        assertEquals(DistanceMode.MIXED, stun.distance());
        assertEquals(0.5, stun.mixWeight());
        assertTrue(prune.needsCalibration(p), "mixed distances need co-activation statistics");
        assertTrue(prune.needsCalibration(prune.bind(json("{\"experts\": 0.25}"))), "default STUN reads expert usage from calibration");
        assertFalse(prune.needsCalibration(prune.bind(json("{\"experts\": 0.25, \"usage\": \"router_norm\"}"))), "data-free usage");
        assertFalse(prune.needsCalibration(prune.bind(json("{\"experts\": 0.25, \"representative\": \"nearest_to_mean\", \"usage_weighted\": false}"))),
                "the reference rule with router-weight distances: no calibration");
        ObjectNode resolved = Params.toJson(p);
        assertEquals("mixed", resolved.get("distance").asText().toLowerCase());
        assertEquals("UNIFORM", resolved.get("allocation").asText());
        assertFalse(resolved.has("method_params"), "method keys are flat in provenance: " + resolved);
        assertEquals(p, prune.bind(resolved));
        // NAEE's older stage-level keys still bind, to the method's own keys
        NaeePruner.Parameters naee = assertInstanceOf(NaeePruner.Parameters.class,
                prune.bind(json("{\"method\": \"naee\", \"keep\": 6, \"naee_samples\": 64, \"naee_max_combinations\": 99}")).methodParams());
        assertEquals(64, naee.samples());
        assertEquals(99L, naee.maxCombinations());
        OwlSparsifier.Parameters owl = assertInstanceOf(OwlSparsifier.Parameters.class,
                sparsify.bind(json("{\"method\": \"owl\", \"total_sparsity\": 0.4, \"owl_lambda\": 0.05}")).methodParams());
        assertEquals(0.05, owl.owlLambda());
        assertEquals(5.0, owl.owlM());
    }

    @Test
    void unknownKeysNameTheKeyTheClosestAndBothKeyLists() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> prune.bind(json("{\"method\": \"stun\", \"experts\": 0.25, \"distanse\": \"mixed\"}")));
        assertTrue(e.getMessage().contains("unknown key 'distanse'") && e.getMessage().contains("did you mean 'distance'?"), e.getMessage());
        assertTrue(e.getMessage().contains("prune keys: method, experts, keep, allocation, top_k_guard"), e.getMessage());
        assertTrue(e.getMessage().contains("stun keys: distance, divide_by_norm, mix_weight"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prune.bind(json("{\"method\": \"reap\", \"experts\": 0.5, \"distance\": \"mixed\"}")));
        assertTrue(e.getMessage().contains("unknown key 'distance'") && e.getMessage().contains("reap takes none"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prune.bind(json("{\"method\": \"stn\", \"experts\": 0.5}")));
        assertTrue(e.getMessage().contains("unknown expert-pruner 'stn'") && e.getMessage().contains("did you mean 'stun'?"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prune.bind(json("{\"method\": \"reap\", \"experts\": 0.5, \"allocation\": \"global\"}")));
        assertTrue(e.getMessage().contains("reap prunes uniformly"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prune.bind(json("{\"method\": \"stun\", \"experts\": 0.25, \"mixWeight\": 2}")));
        assertTrue(e.getMessage().contains("snake_case ('mix_weight')"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> sparsify.bind(json("{\"method\": \"wanda\", \"sparsity\": 0.5, \"owl_m\": 3}")));
        assertTrue(e.getMessage().contains("unknown key 'owl_m'") && e.getMessage().contains("wanda takes none")
                && e.getMessage().contains("sparsify keys: method, sparsity, total_sparsity, nm"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> sparsify.bind(json("{\"method\": \"owl\", \"nm\": \"2:4\"}")));
        assertTrue(e.getMessage().contains("N:M"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prune.bind(json("{\"method\": \"stun\"}")));
        assertTrue(e.getMessage().contains("give exactly one of 'experts'"), e.getMessage());
    }

    @Test
    void plansTheOutputLayoutFromMetadata() throws Exception {
        Path out = tmp.resolve("stun");
        Layout in;
        try (Checkpoint c = Checkpoint.open(mixtral())) {
            in = Layout.of(c);
        }
        PruneExpertsStage.Parameters p = prune.bind(json("{\"method\": \"stun\", \"experts\": 0.25}"));
        Plan dry = prune.plan(p, new PlanInput(in, null, List.of()), ctx());
        assertTrue(dry.output().exact());
        assertEquals(6, dry.output().config().get("num_local_experts").asInt());
        assertEquals(in.tensors().size() - 6 * 2 * 3, dry.output().tensors().size());
        assertEquals(36, dry.details().get("experts_after").asInt());
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        JsonNode report = prune.run(p, dry, mixtral(), List.of(), out, ctx(events::add));
        try (Checkpoint pc = Checkpoint.open(out)) {
            Layout real = Layout.of(pc);
            assertEquals(real.tensors(), dry.output().tensors(), "the plan names every tensor the run writes, in order");
            assertEquals(real.config(), dry.output().config());
        }
        // the report carries what expert_pruning.json used to
        assertEquals("stun", report.get("method").asText());
        assertEquals(36, report.get("experts_after").asInt());
        assertEquals(6, report.get("layers").get(0).get("kept").size());
        assertFalse(Files.exists(out.resolve("expert_pruning.json")));
        // mixtral-tiny's experts are nearly orthogonal: STUN says so, in the report and as a warning event
        assertTrue(report.get("warnings").get(0).asText().contains("nearly orthogonal"), report.toString());
        assertTrue(events.stream().anyMatch(e -> e.startsWith("warning: ") && e.contains("nearly orthogonal")), events.toString());
        JsonNode cluster = null;
        for (JsonNode c : report.get("layers").get(0).get("clusters")) {
            cluster = c.get("members").size() > 1 ? c : cluster;
        }
        assertEquals(cluster.get("members").size(), cluster.get("usage").size(), "each member's usage: " + cluster);
        assertEquals(cluster.get("members").size(), cluster.get("cosine").size(), "each member's weight cosine: " + cluster);

        // global allocation: an estimate with the right total
        Plan global = prune.plan(prune.bind(json("{\"method\": \"stun\", \"keep\": 37, \"allocation\": \"global\"}")),
                new PlanInput(in, null, List.of()), ctx());
        assertFalse(global.output().exact());
        int sum = 0;
        for (int l = 0; l < 6; l++) {
            sum += global.output().spec().layer(l).experts();
            assertTrue(global.output().spec().layer(l).experts() >= 2);
        }
        assertEquals(37, sum);
        assertTrue(global.notes().stream().anyMatch(n -> n.contains("estimate")), global.notes().toString());
        // impossible requests fail when planned
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> prune.plan(prune.bind(json("{\"method\": \"stun\", \"keep\": 1}")), new PlanInput(in, null, List.of()), ctx()));
        assertTrue(e.getMessage().contains("top-2"), e.getMessage());
        for (TensorSpec t : dry.output().tensors()) {
            assertTrue(!t.name().contains("experts.6.") && !t.name().contains("experts.7."), t.name());
        }
    }

    private Recipe recipe(String stages, int windows, int window) {
        ObjectNode r = Json.PRETTY.createObjectNode();
        r.put("model", mixtral().toString());
        r.put("output", tmp.resolve("out").toString());
        ObjectNode cal = r.putObject("calibration");
        cal.putArray("data").add(RefModels.shared().toAbsolutePath().normalize().resolve("data/*.valid.txt").toString());
        cal.put("windows", windows);
        cal.put("window", window);
        r.set("stages", json(stages));
        return Recipe.parse(r, tmp);
    }

    /** An unreachable total fails while planning, before any calibration or output. */
    @Test
    void unreachableTotalSparsityFailsAtPlanTime() {
        Recipe r = recipe("[{\"prune\": {\"method\": \"stun\", \"experts\": 0.25}}, {\"sparsify\": {\"method\": \"owl\", \"total_sparsity\": 0.2}}]", 1, 16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(r));
        assertTrue(e.getMessage().contains("stage 2 (sparsify)") && e.getMessage().contains("cannot be reached"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out")));
        Prepared ok = Pipeline.standard(Events.NONE).prepare(
                recipe("[{\"prune\": {\"method\": \"stun\", \"experts\": 0.25}}, {\"sparsify\": {\"method\": \"owl\", \"total_sparsity\": 0.3}}]", 1, 16));
        double s = ok.plans().get(1).details().get("stage_sparsity_target").asDouble();
        assertTrue(s > 0 && s < 0.1, "total 0.3 after removing 23.5% leaves " + s);
    }

    /**
     * The OWL bug: total 0.3 after removing a quarter of the experts leaves a stage target of 0.085, and the reference
     * spread (+-2 lambda around it) gave negative layer targets, failing after calibration. Now it runs.
     */
    @Test
    void owlWithASmallStageTargetRuns() throws Exception {
        Recipe r = recipe("[{\"prune\": {\"method\": \"stun\", \"experts\": 0.25}}, {\"sparsify\": {\"method\": \"owl\", \"total_sparsity\": 0.3}}]", 2, 64);
        Pipeline.Result res = Pipeline.standard(Events.NONE).run(r);
        JsonNode rep = res.provenance().get("stages").get(1).get("report");
        double stage = rep.get("stage_sparsity_target").asDouble();
        double mean = 0;
        for (JsonNode l : rep.get("layers")) {
            double t = l.get("target").asDouble();
            assertTrue(t > 0 && t < 1, "layer target " + t);
            mean += t / rep.get("layers").size();
        }
        assertEquals(stage, mean, 1e-9);
        assertEquals(0.3, rep.get("total_sparsity_target").asDouble());
        assertFalse(Files.exists(res.output().resolve("unstructured_pruning.json")));
        assertFalse(Files.exists(res.output().resolve("expert_pruning.json")));
        assertEquals(Allocation.UNIFORM.name(), res.provenance().get("stages").get(0).get("params").get("allocation").asText());
    }
}
