package dev.moekit.prune.expert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.prune.expert.write.ExpertRoles;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Router-weight STUN end to end on the shared tiny checkpoints (no calibration). */
class ExpertPrunerTest {
    /** Router-weight STUN with its defaults. */
    static final BoundPruner<?> STUN = BoundPruner.of("stun", null);

    @TempDir
    Path tmp;

    private static byte[] bytes(Checkpoint c, String name) {
        return c.shard(name).readBytes(name);
    }

    @Test
    void mixtralUniformRouterWeightStun() throws Exception {
        try (Checkpoint in = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ModelSpec spec = RefModels.spec(in);
            ExpertPruneOptions o = ExpertPruneOptions.ratio(0.25);
            Path out = tmp.resolve("out");
            ExpertPruneReport r = ExpertPruning.run(in, spec, out, STUN, o, StatsSource.NONE, CheckpointWriter.Options.defaults());
            assertEquals(48, r.expertsBefore());
            assertEquals(36, r.expertsAfter());
            assertTrue(r.uniform() && r.exact());
            try (Checkpoint pc = Checkpoint.open(out)) {
                assertEquals(6, pc.config().get("num_local_experts").asInt());
                assertEquals(2, pc.config().get("num_experts_per_tok").asInt(), "top-k unchanged");
                checkLayers(in, pc, spec, r);
                // non-weight files copied; provenance in the report (the runner records it), no loose report file
                assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
                assertTrue(Files.isRegularFile(out.resolve("generation_config.json")));
                assertFalse(Files.exists(out.resolve("expert_pruning.json")));
                JsonNode prov = Json.STRICT.readTree(r.toJson().toString());
                assertEquals(6, prov.get("layers").get(0).get("kept").size());
                assertEquals("stun", prov.get("method").asText());
                assertEquals("ROUTER_WEIGHT", prov.get("method_params").get("distance").asText());
                assertEquals(0.25, prov.get("options").get("prune_ratio").asDouble());
                assertEquals(in.totalBytes() - 12L * 3 * 256 * 512 * 2 - 12L * 256 * 2, pc.totalBytes());
            }
        }
    }

    /** Every output tensor matches its source: kept experts renumbered, router rows in step, the rest untouched. */
    static void checkLayers(Checkpoint in, Checkpoint pc, ModelSpec spec, ExpertPruneReport r) {
        Set<String> expected = in.names().stream().collect(Collectors.toSet());
        int routerTensors = 0;
        for (LayerResult lr : r.layers()) {
            int l = lr.layer();
            int[] kept = lr.keptIndices();
            for (int e = 0; e < lr.experts(); e++) {
                for (Role role : ExpertRoles.expertRoles(spec)) {
                    assertEquals(e < kept.length, pc.has(spec.name(role, l, e)), "expert " + e + " of layer " + l);
                    expected.remove(spec.name(role, l, e));
                }
            }
            for (int j = 0; j < kept.length; j++) {
                for (Role role : ExpertRoles.expertRoles(spec)) {
                    assertArrayEquals(bytes(in, spec.name(role, l, kept[j])), bytes(pc, spec.name(role, l, j)),
                            "layer " + l + " output expert " + j + " is input expert " + kept[j]);
                }
            }
            String router = spec.name(Role.ROUTER, l);
            assertArrayEquals(new long[] {kept.length, spec.hidden()}, pc.info(router).shape());
            // router logits of the kept experts are unchanged for any input
            float[] wIn = in.floats(router);
            float[] wOut = pc.floats(router);
            Random rnd = new Random(l);
            float[] x = new float[spec.hidden()];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            for (int j = 0; j < kept.length; j++) {
                assertEquals(dot(wIn, kept[j], x), dot(wOut, j, x), 0.0, "logit of kept expert " + kept[j]);
            }
            for (Role rr : ExpertRoles.routerRoles(in, spec, l)) {
                expected.remove(spec.name(rr, l));
                routerTensors++;
            }
        }
        assertEquals(expected.size() + r.expertsAfter() * ExpertRoles.expertRoles(spec).size() + routerTensors, pc.names().size());
        for (String n : expected) {
            assertArrayEquals(bytes(in, n), bytes(pc, n), n + " untouched");
        }
    }

    private static double dot(float[] w, int row, float[] x) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (double) w[row * x.length + i] * x[i];
        }
        return s;
    }

    @Test
    void mixtralGlobalThresholdGivesPerLayerCounts() throws Exception {
        try (Checkpoint in = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ModelSpec spec = RefModels.spec(in);
            ExpertPruneOptions o = ExpertPruneOptions.keep(37).withAllocation(Allocation.GLOBAL);
            Path out = tmp.resolve("global");
            ExpertPruneReport r = ExpertPruning.run(in, spec, out, STUN, o, StatsSource.NONE, CheckpointWriter.Options.defaults());
            assertEquals(37, r.expertsAfter());
            assertTrue(r.exact());
            try (Checkpoint pc = Checkpoint.open(out)) {
                JsonNode n = pc.config().get("num_local_experts");
                if (r.uniform()) {
                    assertTrue(n.isInt());
                } else {
                    assertTrue(n.isArray());
                    int sum = 0;
                    for (int l = 0; l < 6; l++) {
                        assertEquals(r.layers().get(l).kept().size(), n.get(l).asInt());
                        assertTrue(n.get(l).asInt() >= 2, "never below top-k");
                        sum += n.get(l).asInt();
                    }
                    assertEquals(37, sum);
                    assertTrue(r.notes().stream().anyMatch(s -> s.contains("per-layer list")));
                }
                checkLayers(in, pc, spec, r);
            }
        }
    }

    @Test
    void qwenKeepsSharedExpertAndTopK() throws Exception {
        try (Checkpoint in = Checkpoint.open(RefModels.model("qwen2moe-tiny"))) {
            ModelSpec spec = RefModels.spec(in);
            ExpertPruneOptions o = ExpertPruneOptions.ratio(0.5);
            Path out = tmp.resolve("qwen");
            ExpertPruneReport r = ExpertPruning.run(in, spec, out, STUN, o, StatsSource.NONE, CheckpointWriter.Options.defaults());
            try (Checkpoint pc = Checkpoint.open(out)) {
                assertEquals(16, pc.config().get("num_experts").asInt());
                assertEquals(4, pc.config().get("num_experts_per_tok").asInt());
                for (int l = 0; l < 6; l++) {
                    for (Role s : new Role[] {Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN, Role.SHARED_EXPERT_GATE}) {
                        assertArrayEquals(bytes(in, spec.name(s, l)), bytes(pc, spec.name(s, l)));
                    }
                }
                checkLayers(in, pc, spec, r);
            }
        }
    }

    @Test
    void topKGuard() throws Exception {
        try (Checkpoint in = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ModelSpec spec = RefModels.spec(in);
            ExpertPruneOptions tooMany = ExpertPruneOptions.keep(1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExpertPruning.plan(in, spec, STUN, tooMany, StatsSource.NONE));
            assertTrue(e.getMessage().contains("top-2"), e.getMessage());
            // the metadata-only plan refuses the same request
            e = assertThrows(IllegalArgumentException.class, () -> ExpertPruning.counts("x", spec, STUN, tooMany));
            assertTrue(e.getMessage().contains("top-2"), e.getMessage());
            ExpertPruneOptions clamp = ExpertPruneOptions.keep(1).withTopKGuard(TopKGuard.KEEP_TOP_K);
            ExpertPruneReport r = ExpertPruning.plan(in, spec, STUN, clamp, StatsSource.NONE);
            r.layers().forEach(l -> assertEquals(2, l.kept().size()));
            assertFalse(r.exact());
        }
    }

    @Test
    void averagingVariantWritesMeans() throws Exception {
        try (Checkpoint in = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ModelSpec spec = RefModels.spec(in);
            BoundPruner<?> average = BoundPruner.of("stun", Json.STRICT.readTree("{\"representative\": \"average\"}"));
            Path out = tmp.resolve("avg");
            ExpertPruneReport r = ExpertPruning.run(in, spec, out, average, ExpertPruneOptions.keep(5), StatsSource.NONE,
                    CheckpointWriter.Options.defaults());
            try (Checkpoint pc = Checkpoint.open(out)) {
                LayerResult lr = r.layers().getFirst();
                int j = 0;
                for (KeptExpert k : lr.kept()) {
                    if (k.averaged()) {
                        float[] got = pc.floats(spec.name(Role.EXPERT_DOWN, 0, j));
                        float[][] m = new float[k.members().length][];
                        for (int a = 0; a < m.length; a++) {
                            m[a] = in.floats(spec.name(Role.EXPERT_DOWN, 0, k.members()[a]));
                        }
                        for (int i = 0; i < got.length; i += 97) {
                            double mean = 0;
                            for (float[] v : m) {
                                mean += v[i];
                            }
                            mean /= m.length;
                            assertEquals(mean, got[i], Math.abs(mean) / 128 + 1e-6, "bf16 mean at " + i);
                        }
                        float[] rIn = in.floats(spec.name(Role.ROUTER, 0));
                        float[] rOut = pc.floats(spec.name(Role.ROUTER, 0));
                        double mean = 0;
                        for (int mm : k.members()) {
                            mean += rIn[mm * spec.hidden()];
                        }
                        mean /= k.members().length;
                        assertEquals(mean, rOut[j * spec.hidden()], Math.abs(mean) / 128 + 1e-6);
                    }
                    j++;
                }
                assertTrue(lr.kept().stream().anyMatch(KeptExpert::averaged), "keep 5 of 8 merges something");
            }
        }
    }
}
