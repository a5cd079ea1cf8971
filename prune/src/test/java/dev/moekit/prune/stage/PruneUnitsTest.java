package dev.moekit.prune.stage;

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
import dev.moekit.prune.testing.RefModels;
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
 * The prune stage in work units (decide, then per-layer-group writes) writes the bytes of the one-pass expert
 * pruning, whatever the split, and its report is the one-pass report.
 */
class PruneUnitsTest {
    private final PruneExpertsStage prune = new PruneExpertsStage();

    @TempDir
    Path tmp;

    private static Path mixtral() {
        return RefModels.model("mixtral-tiny").toAbsolutePath().normalize();
    }

    private static StageContext ctx() {
        String data = RefModels.shared().toAbsolutePath().normalize().resolve("data/python.valid.txt").toString();
        return new StageContext(mixtral(), new CalibrationSettings(List.of(data), 2, 64, false), "cpu", 0, Events.NONE);
    }

    private PruneExpertsStage.Parameters bind(String json) throws Exception {
        return prune.bind(Json.STRICT.readTree(json));
    }

    private JsonNode runUnits(PruneExpertsStage.Parameters p, Path out) throws Exception {
        StageContext ctx = ctx();
        Plan plan;
        try (Checkpoint c = Checkpoint.open(mixtral())) {
            plan = prune.plan(p, new PlanInput(Layout.of(c), mixtral(), List.of()), ctx);
        }
        Path units = Files.createDirectories(out.resolveSibling(out.getFileName() + ".units"));
        Map<String, StageType.UnitResult> done = new LinkedHashMap<>();
        for (WorkUnit u : plan.units()) {
            u.after().forEach(a -> assertTrue(done.containsKey(a), u.id() + " runs after " + a));
            Path t = Files.createDirectories(units.resolve("." + u.id() + ".tmp"));
            JsonNode rep = prune.execute(p, plan, u, new UnitContext(mixtral(), List.of(), t, ctx));
            done.put(u.id(), new StageType.UnitResult(Files.move(t, units.resolve(u.id())), rep));
        }
        return prune.commit(p, plan, done, new CommitContext(mixtral(), List.of(), out, ctx));
    }

    private static Map<String, String> hashes(Path ckpt) throws Exception {
        Map<String, String> h = new TreeMap<>();
        try (var fs = Files.list(ckpt)) {
            for (Path f : fs.toList()) {
                h.put(f.getFileName().toString(), Fingerprint.content(f));
            }
        }
        return h;
    }

    @Test
    void calibratedFrequencyPruningInLayerUnitsWritesTheOnePassBytes() throws Exception {
        String keys = "\"method\": \"frequency\", \"experts\": 0.25";
        PruneExpertsStage.Parameters one = bind("{" + keys + ", \"layers_per_unit\": 1}");
        PruneExpertsStage.Parameters all = bind("{" + keys + ", \"layers_per_unit\": 64}");
        Plan plan;
        try (Checkpoint c = Checkpoint.open(mixtral())) {
            plan = prune.plan(one, new PlanInput(Layout.of(c), mixtral(), List.of()), ctx());
        }
        assertEquals("decide", plan.units().getFirst().id());
        assertTrue(plan.units().stream().filter(u -> u.id().startsWith("layers-")).allMatch(u -> u.after().equals(List.of("decide"))), plan.toJson().toString());
        assertTrue(plan.units().stream().filter(u -> u.id().equals("rest")).allMatch(u -> u.after().isEmpty()));

        // the one-pass reference: statistics, decisions and removal in one call
        JsonNode ref = prune.run(all, plan, mixtral(), List.of(), tmp.resolve("ref"), ctx());
        JsonNode split = runUnits(one, tmp.resolve("split"));
        JsonNode single = runUnits(all, tmp.resolve("single"));
        assertEquals(hashes(tmp.resolve("ref")), hashes(tmp.resolve("split")));
        assertEquals(hashes(tmp.resolve("ref")), hashes(tmp.resolve("single")));
        assertEquals(ref, split, "the merged report is the one-pass report");
        assertEquals(ref, single);
        assertTrue(ref.path("experts_after").asInt() < ref.path("experts_before").asInt());
    }
}
