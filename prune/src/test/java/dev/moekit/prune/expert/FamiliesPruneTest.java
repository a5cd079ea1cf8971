package dev.moekit.prune.expert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.prune.expert.write.ExpertRoles;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import dev.moekit.toolkit.testing.TinyOptions;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Expert pruning on tiny random checkpoints of every MoE family; outputs must pass the toolkit's spec checker. */
class FamiliesPruneTest {
    @TempDir
    Path tmp;

    private ExpertPruneReport prune(Path in, Path out, ExpertPruneOptions o) {
        try (Checkpoint c = Checkpoint.open(in)) {
            return ExpertPruning.run(c, ModelSpec.of(c), out, ExpertPrunerTest.STUN, o, StatsSource.NONE, CheckpointWriter.Options.defaults());
        }
    }

    private static void assertValid(Path out) {
        try (Checkpoint pc = Checkpoint.open(out)) {
            List<String> problems = SpecChecker.check(pc, ModelSpec.of(pc));
            assertEquals(List.of(), problems);
            assertEquals(List.of(), SpecChecker.scanNonFinite(pc));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek", "deepseek_v3", "phimoe"})
    void uniformStunOnEveryFamily(String family) {
        Path in = TinyCheckpoints.builder(family).layers(3).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        ExpertPruneReport r = prune(in, out, ExpertPruneOptions.ratio(0.25));
        assertValid(out);
        try (Checkpoint c = Checkpoint.open(in); Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            ModelSpec ps = ModelSpec.of(pc);
            for (LayerResult lr : r.layers()) {
                assertEquals(6, ps.layer(lr.layer()).experts());
                assertEquals(s.layer(lr.layer()).topK(), ps.layer(lr.layer()).topK());
            }
            // dense layers and shared experts untouched
            for (int l = 0; l < s.layers(); l++) {
                for (Role role : Role.values()) {
                    boolean untouched = !s.layer(l).moe() || role.kind() == Role.Kind.SHARED_EXPERT || role.kind() == Role.Kind.ATTENTION
                            || role.kind() == Role.Kind.NORM || role.kind() == Role.Kind.DENSE_MLP;
                    if (untouched && role.perLayer() && !role.perExpert() && s.family().has(role) && c.has(s.name(role, l))) {
                        String n = s.name(role, l);
                        assertArrayEquals(c.shard(n).readBytes(n), pc.shard(n).readBytes(n), n);
                    }
                }
            }
            ExpertPrunerTest.checkLayers(c, pc, s, r);
        }
    }

    @Test
    void deepseekV3CorrectionBiasFollowsTheExperts() {
        Path in = TinyCheckpoints.builder("deepseek_v3").layers(3).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        ExpertPruneReport r = prune(in, out, ExpertPruneOptions.keep(4));
        try (Checkpoint c = Checkpoint.open(in); Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            assertTrue(r.layers().stream().noneMatch(l -> !s.layer(l.layer()).moe()), "the dense first layer is not an MoE layer");
            for (LayerResult lr : r.layers()) {
                String n = s.name(Role.ROUTER_CORRECTION_BIAS, lr.layer());
                float[] before = c.floats(n);
                float[] after = pc.floats(n);
                int[] kept = lr.keptIndices();
                assertEquals(kept.length, after.length);
                for (int j = 0; j < kept.length; j++) {
                    assertEquals(before[kept[j]], after[j], 0.0, n + " row " + j);
                }
            }
        }
        assertValid(out);
    }

    @Test
    void fusedExpertsAreSlicedInStep() {
        Path in = TinyCheckpoints.builder("mixtral").fused(true).transformers5(true).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        ExpertPruneReport r = prune(in, out, ExpertPruneOptions.keep(5));
        assertValid(out);
        try (Checkpoint c = Checkpoint.open(in); Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            assertTrue(s.fusedExperts());
            for (LayerResult lr : r.layers()) {
                for (Role role : ExpertRoles.expertRoles(s)) {
                    String n = s.name(role, lr.layer());
                    byte[] a = c.shard(n).readBytes(n);
                    byte[] b = pc.shard(n).readBytes(n);
                    int row = a.length / lr.experts();
                    int[] kept = lr.keptIndices();
                    assertEquals(kept.length * row, b.length);
                    for (int j = 0; j < kept.length; j++) {
                        assertArrayEquals(java.util.Arrays.copyOfRange(a, kept[j] * row, (kept[j] + 1) * row),
                                java.util.Arrays.copyOfRange(b, j * row, (j + 1) * row), n + " expert " + j);
                    }
                }
            }
        }
    }

    @Test
    void globalAllocationWritesAPerLayerListTheParserReads() {
        Path in = TinyCheckpoints.builder("qwen3_moe").layers(4).experts(16).seed(3).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        ExpertPruneReport r = prune(in, out, ExpertPruneOptions.keep(41).withAllocation(Allocation.GLOBAL));
        assertEquals(41, r.expertsAfter());
        try (Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec ps = ModelSpec.of(pc);
            int sum = 0;
            for (LayerResult lr : r.layers()) {
                assertEquals(lr.kept().size(), ps.layer(lr.layer()).experts());
                sum += ps.layer(lr.layer()).experts();
            }
            assertEquals(41, sum);
            assertFalse(r.uniform(), "41 kept experts cannot spread evenly over 4 layers");
            assertTrue(pc.config().get("num_experts").isArray());
            assertEquals(41, java.util.stream.StreamSupport.stream(pc.config().get("num_experts").spliterator(), false)
                    .mapToInt(JsonNode::asInt).sum());
        }
        assertValid(out);
    }
}
