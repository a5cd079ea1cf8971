package dev.moekit.prune.expert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.prune.expert.write.ExpertRoles;
import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.prune.testing.HandMoe;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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
            assertFalse(r.uniform(), "37 kept experts cannot spread evenly over 6 layers");
            try (Checkpoint pc = Checkpoint.open(out)) {
                JsonNode n = pc.config().get("num_local_experts");
                assertTrue(n.isArray());
                int sum = 0;
                for (int l = 0; l < 6; l++) {
                    assertEquals(r.layers().get(l).kept().size(), n.get(l).asInt());
                    assertTrue(n.get(l).asInt() >= 2, "never below top-k");
                    sum += n.get(l).asInt();
                }
                assertEquals(37, sum);
                assertTrue(r.notes().stream().anyMatch(s -> s.contains("per-layer list")));
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

    /** Router rows of the hand-built layer: experts 0, 1, 2 close together (axis 0), 3 and 4 close (axis 1), 5 alone. */
    static final float[][] ROUTER = HandMoe.router(new int[] {0, 0, 0, 1, 1, 2}, new double[] {0, 0.1, 0.2, 0, 0.1, 0});
    /** Weight scales: expert 1 has the smallest weights (barely trained), 0 the largest. */
    static final double[] SCALE = {1.5, 0.3, 1.0, 1.0, 1.0, 1.0};

    /**
     * Top-2 routing of the hand-built layer, 272 tokens. Routed-token counts 50, 82, 70, 2, 120, 60; gate mass 22, 4.2,
     * 42, 1.8, 96, 26 (expert 1 gets many tokens with tiny gates).
     */
    static StatsSource handUsage() {
        RoutingStats.Accumulator a = RoutingStats.accumulator(0, 6, 2);
        tokens(a, 40, 2, 5, 0.6);
        tokens(a, 30, 2, 0, 0.6);
        tokens(a, 20, 0, 4, 0.5);
        tokens(a, 20, 4, 5, 0.5);
        tokens(a, 2, 3, 1, 0.9);
        tokens(a, 80, 4, 1, 0.95);
        return StatsSource.of(Map.of(0, a.build()), Map.of());
    }

    private static void tokens(RoutingStats.Accumulator a, int n, int first, int second, double gate) {
        for (int t = 0; t < n; t++) {
            a.add(new int[] {first, second}, new double[] {gate, 1 - gate}, new double[] {1, 1});
        }
    }

    /** Output expert j of layer 0 holds exactly input expert {@code expected[j]}'s weights and router row. */
    private static void assertKeeps(Path in, Path out, int[] expected) {
        try (Checkpoint a = Checkpoint.open(in); Checkpoint b = Checkpoint.open(out)) {
            ModelSpec spec = ModelSpec.of(a);
            assertEquals(expected.length, ModelSpec.of(b).layer(0).experts());
            for (int j = 0; j < expected.length; j++) {
                for (Role role : ExpertRoles.expertRoles(spec)) {
                    assertArrayEquals(bytes(a, spec.name(role, 0, expected[j])), bytes(b, spec.name(role, 0, j)),
                            "output expert " + j + " is input expert " + expected[j]);
                }
                float[] ra = a.floats(spec.name(Role.ROUTER, 0));
                float[] rb = b.floats(spec.name(Role.ROUTER, 0));
                assertArrayEquals(java.util.Arrays.copyOfRange(ra, expected[j] * HandMoe.HIDDEN, (expected[j] + 1) * HandMoe.HIDDEN),
                        java.util.Arrays.copyOfRange(rb, j * HandMoe.HIDDEN, (j + 1) * HandMoe.HIDDEN));
            }
        }
    }

    private ExpertPruneReport prune(Path in, String name, String params, int keep, StatsSource stats) throws Exception {
        try (Checkpoint c = Checkpoint.open(in)) {
            return ExpertPruning.run(c, ModelSpec.of(c), tmp.resolve(name), BoundPruner.of(name.replaceAll("-.*", ""),
                    params == null ? null : Json.STRICT.readTree(params)), ExpertPruneOptions.keep(keep), stats, CheckpointWriter.Options.defaults());
        }
    }

    /**
     * Hand-computed STUN on nearly orthogonal experts: the router rows make the clusters {0, 1, 2}, {3, 4}, {5}. The
     * default keeps each cluster's most used member (2: gate mass 42 of 68; 4: 96 against 1.8); the reference rule keeps
     * the member nearest the plain mean, which for orthogonal experts is the smallest (1), and the lower index of a pair (3).
     */
    @Test
    void stunKeepsTheMostUsedMemberOfHandComputedClusters() throws Exception {
        Path in = HandMoe.write(tmp.resolve("hand"), ROUTER, SCALE, 0);
        ExpertPruneReport r = prune(in, "stun", null, 3, handUsage());
        LayerResult lr = r.layers().getFirst();
        assertEquals("[2[0, 1, 2], 4[3, 4], 5[5]]", lr.kept().toString());
        assertKeeps(in, tmp.resolve("stun"), new int[] {2, 4, 5});
        // the report: each member's usage and weight cosine with the kept expert; the orthogonality warning
        ClusterInfo big = lr.clusters().getFirst();
        assertArrayEquals(new double[] {22, 4.2, 42}, big.usage(), 1e-9);
        assertEquals(1, big.cosine()[2], 1e-9);
        assertTrue(Math.abs(big.cosine()[0]) < 0.1 && Math.abs(big.cosine()[1]) < 0.1, big.toString());
        assertTrue(Math.abs(big.meanPairCosine()) < 0.1, big.toString());
        assertEquals(1, r.warnings().size(), r.warnings().toString());
        assertTrue(r.warnings().getFirst().contains("nearly orthogonal") && r.warnings().getFirst().contains("[0]"), r.warnings().toString());
        JsonNode prov = Json.STRICT.readTree(r.toJson().toString());
        JsonNode c0 = prov.get("layers").get(0).get("clusters").get(0);
        assertEquals(42, c0.get("usage").get(2).asDouble(), 1e-9);
        assertEquals(1, c0.get("cosine").get(2).asDouble(), 1e-9);
        assertTrue(prov.get("layers").get(0).get("mean_cluster_cosine").asDouble() < 0.1);
        assertTrue(prov.get("warnings").get(0).asText().contains("nearly orthogonal"));
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("gate mass from calibration")), r.notes().toString());

        // the reference rule, still available
        ExpertPruneReport ref = prune(in, "stun-ref", "{\"representative\": \"nearest_to_mean\", \"usage_weighted\": false}", 3, StatsSource.NONE);
        assertEquals("[1[0, 1, 2], 3[3, 4], 5[5]]", ref.layers().getFirst().kept().toString());
        assertKeeps(in, tmp.resolve("stun-ref"), new int[] {1, 3, 5});
    }

    /** Upcycled-like near copies: STUN's premise holds, no warning, and the member nearest the centre is kept. */
    @Test
    void nearCopiesKeepTheCentralMemberWithoutWarning() throws Exception {
        Path in = HandMoe.write(tmp.resolve("copies"), ROUTER, SCALE, 3);
        ExpertPruneReport r = prune(in, "stun", null, 3, handUsage());
        assertEquals("[2[0, 1, 2], 4[3, 4], 5[5]]", r.layers().getFirst().kept().toString());
        assertEquals(java.util.List.of(), r.warnings());
        assertTrue(r.layers().getFirst().clusters().getFirst().meanPairCosine() > 0.8);
    }

    /**
     * Co-activation distances: the rare expert 3 fires only with 1 (a = 2 / 2), while 1 and the busiest expert 4 share 80
     * tokens (a = 80 / 82). Raw counts over their mean merged 1 with 4 and, keeping the lower index, removed the busiest
     * expert; C / min(n_i, n_j) merges 3 into 1 and removes the rarest.
     */
    @Test
    void coactivationStunRemovesTheRareExpertNotTheBusiest() throws Exception {
        Path in = HandMoe.write(tmp.resolve("hand"), ROUTER, SCALE, 0);
        ExpertPruneReport r = prune(in, "stun", "{\"distance\": \"coactivation\"}", 5, handUsage());
        assertArrayEquals(new int[] {0, 1, 2, 4, 5}, r.layers().getFirst().keptIndices());
        assertKeeps(in, tmp.resolve("stun"), new int[] {0, 1, 2, 4, 5});
        ExpertPruneReport ref = prune(in, "stun-mean", "{\"distance\": \"coactivation\", \"coactivation_norm\": \"mean\"}", 5, handUsage());
        assertEquals("[0[0], 2[2], 3[3], 4[1, 4], 5[5]]", ref.layers().getFirst().kept().toString(),
                "reference scaling merges the busy pair (usage then keeps 4, the reference rule kept 1)");
    }

    /** Frequency keeps the most routed experts (1 has many tokens with tiny gates), weighted frequency the most gate mass. */
    @Test
    void frequencyAndWeightedFrequencyKeepTheMostUsed() throws Exception {
        Path in = HandMoe.write(tmp.resolve("hand"), ROUTER, SCALE, 0);
        ExpertPruneReport f = prune(in, "frequency", null, 3, handUsage());
        assertArrayEquals(new int[] {1, 2, 4}, f.layers().getFirst().keptIndices());
        assertArrayEquals(new double[] {50, 82, 70, 2, 120, 60}, f.layers().getFirst().scores(), 0);
        assertKeeps(in, tmp.resolve("frequency"), new int[] {1, 2, 4});
        ExpertPruneReport w = prune(in, "weighted_frequency", null, 3, handUsage());
        assertArrayEquals(new int[] {2, 4, 5}, w.layers().getFirst().keptIndices());
        assertKeeps(in, tmp.resolve("weighted_frequency"), new int[] {2, 4, 5});
    }
}
