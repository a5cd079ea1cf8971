package dev.moekit.distill.slim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.distill.Losses;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TrainData;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SlimMoE on the reference models: slicing, configs, scores, and what a short multi-stage run does. */
class SlimTest {
    private static int threads;

    @BeforeAll
    static void oneThread() {
        Engine.getEngine(Engines.PYTORCH);
        threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);     // the tiny models on a shared 2-core machine: no OpenMP barrier stalls
    }

    @AfterAll
    static void restore() {
        JniUtils.setNumThreads(threads);
    }

    static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../shared")).toAbsolutePath().normalize();
    }

    static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    static List<Path> valid() {
        return List.of(shared().resolve("data/misc.valid.txt"), shared().resolve("data/python.valid.txt"));
    }

    static ModelSpec spec(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return ModelSpec.of(c);
        }
    }

    /** Logits of two fixed windows of 24 tokens. */
    static float[] logits(Path dir) {
        Random r = new Random(7);
        int[][] w = new int[2][24];
        for (int[] row : w) {
            row[0] = 1;
            for (int i = 1; i < row.length; i++) {
                row[i] = 3 + r.nextInt(8000);
            }
        }
        List<float[]> out = new ArrayList<>();
        try (CausalLm m = CausalLm.open(dir, RuntimeOptions.cpu())) {
            m.run(List.of(TokenBatch.of(w)), dev.moekit.eval.runtime.ForwardObserver.NONE, (i, b, l) -> out.add(l.toFloatArray()));
        }
        return out.getFirst();
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** A copy of {@code src} with {@code edit(name, values)} applied to every tensor it returns non-null for. */
    static Path edited(Path src, Path dst, BiFunction<String, float[], float[]> edit) {
        try (Checkpoint in = Checkpoint.open(src)) {
            List<TensorSpec> plan = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(dst, plan, CheckpointWriter.Options.defaults(), src)) {
                for (TensorSpec t : plan) {
                    float[] v = edit.apply(t.name(), in.floats(t.name()));
                    if (v == null) {
                        w.copy(t.name(), in.shard(t.name()), t.name());
                    } else {
                        w.write(t.name(), v);
                    }
                }
                w.copyOtherFiles(in);
                w.commit(in.config());
            }
        }
        return dst;
    }

    static SlimMoe.Settings settings(Target t, int stages, List<Long> tokens) {
        return new SlimMoe.Settings(t, stages, Target.Widths.GEOMETRIC, tokens, new TrainData.TextFiles(valid(), 64, 8), 8,
                Sensitivity.ScoreLoss.AUTO, EnumSet.of(ParamGroup.ALL), 4, 1, Losses.slimMoe(), Optim.of(1e-4), Device.cpu(), null, 0);
    }

    @Test
    void keepingEverythingReproducesTheInputsLogits(@TempDir Path tmp) {
        Path in = model("qwen2moe-tiny");
        ModelSpec s = spec(in);
        Path out = tmp.resolve("same");
        SlimMoe.run(settings(Target.of(s, 1.0, null), 2, List.of(0L, 0L)), in, out, tmp.resolve("work"), Events.NONE);
        assertEquals(0.0, maxDiff(logits(in), logits(out)));
        try (Checkpoint a = Checkpoint.open(in); Checkpoint b = Checkpoint.open(out)) {
            assertEquals(a.names().size(), b.names().size());
            assertEquals(a.totalBytes(), b.totalBytes());
        }
    }

    @Test
    void slimmedShapesAndConfigAreRightAndVerify(@TempDir Path tmp) {
        for (String m : List.of("mixtral-tiny", "qwen2moe-tiny")) {
            Path in = model(m);
            ModelSpec s = spec(in);
            Target t = Target.of(s, 0.25, 3);
            Path out = tmp.resolve(m);
            try (Checkpoint c = Checkpoint.open(in)) {
                SlimWriter.write(c, s, Selection.prefix(s, t), out);
            }
            try (Checkpoint c = Checkpoint.open(out)) {
                ModelSpec o = ModelSpec.of(c);
                assertEquals(List.of(), SpecChecker.checkAll(c, o), m);
                int f = s.layer(0).expertFfn() / 4;
                assertEquals(f, o.layer(0).expertFfn(), m);
                assertEquals(3, o.kvHeads());
                assertEquals(6, o.heads());
                assertEquals(32, o.headDim());
                assertEquals(32, c.config().path("head_dim").asInt(), "6 heads x 32 != hidden 256: head_dim is written");
                assertEquals(s.layer(0).experts(), o.layer(0).experts(), "every expert is kept");
                assertArrayEquals(new long[] {f, 256}, c.info(o.name(Role.EXPERT_GATE, 2, 1)).shape());
                assertArrayEquals(new long[] {256, f}, c.info(o.name(Role.EXPERT_DOWN, 2, 1)).shape());
                assertArrayEquals(new long[] {192, 256}, c.info(o.name(Role.Q, 0)).shape());
                assertArrayEquals(new long[] {96, 256}, c.info(o.name(Role.K, 0)).shape());
                assertArrayEquals(new long[] {256, 192}, c.info(o.name(Role.O, 0)).shape());
                if (m.startsWith("qwen2")) {
                    assertEquals(128, o.layer(0).sharedFfn(), "the shared expert is slimmed by the same fraction");
                    assertEquals(128, c.config().path("shared_expert_intermediate_size").asInt());
                    assertEquals(32, c.config().path("moe_intermediate_size").asInt());
                    assertEquals(1024, c.config().path("intermediate_size").asInt(), "the dense width is untouched");
                    assertArrayEquals(new long[] {96}, c.info(o.name(Role.K_BIAS, 0)).shape());
                } else {
                    assertEquals(128, c.config().path("intermediate_size").asInt());
                }
            }
            assertTrue(Double.isFinite(logits(out)[0]));
        }
        Path in = model("mixtral-tiny");
        try (Checkpoint c = Checkpoint.open(in)) {
            SlimWriter.write(c, spec(in), Selection.prefix(spec(in), Target.of(spec(in), 0.5, null)), tmp.resolve("nohd"));
        }
        try (Checkpoint c = Checkpoint.open(tmp.resolve("nohd"))) {
            assertFalse(c.config().has("head_dim") && !c.config().get("head_dim").isNull(), "all heads kept: no head_dim added");
        }
    }

    @Test
    void removingAGqaGroupEqualsMaskingItsHeads(@TempDir Path tmp) {
        Path in = model("qwen2moe-tiny");     // q/k/v biases
        ModelSpec s = spec(in);
        int drop = 1;
        int d = s.headDim();
        int groupCols = d * s.heads() / s.kvHeads();
        Path masked = edited(in, tmp.resolve("masked"), (name, v) -> {
            for (int l = 0; l < s.layers(); l++) {
                if (name.equals(s.name(Role.O, l))) {
                    for (int row = 0; row < s.hidden(); row++) {
                        for (int c = drop * groupCols; c < (drop + 1) * groupCols; c++) {
                            v[row * s.heads() * d + c] = 0;
                        }
                    }
                    return v;
                }
            }
            return null;
        });
        Selection all = Selection.prefix(s, Target.of(s));
        int[] kept = IntStream.range(0, s.kvHeads()).filter(g -> g != drop).toArray();
        int[][] groups = new int[s.layers()][];
        java.util.Arrays.fill(groups, kept);
        Selection sel = new Selection(all.ffn(), all.sharedFfn(), kept.length, all.experts(), all.shared(), groups);
        Path sliced = tmp.resolve("sliced");
        try (Checkpoint c = Checkpoint.open(in)) {
            SlimWriter.write(c, s, sel, sliced);
        }
        double diff = maxDiff(logits(masked), logits(sliced));
        assertTrue(diff < 2e-3, "sliced vs masked logits differ by " + diff);
        assertTrue(maxDiff(logits(in), logits(sliced)) > 0.05, "the group mattered");
    }

    @Test
    void aNeuronZeroedByHandScoresZeroAndGoesFirst(@TempDir Path tmp) {
        Path in = model("mixtral-tiny");
        ModelSpec s = spec(in);
        int neuron = 37;
        int ffn = s.layer(0).expertFfn();
        Map<String, Integer> rows = Map.of(s.name(Role.EXPERT_GATE, 1, 3), 1, s.name(Role.EXPERT_UP, 1, 3), 1, s.name(Role.EXPERT_DOWN, 1, 3), 0);
        Path zeroed = edited(in, tmp.resolve("zeroed"), (name, v) -> {
            Integer byRow = rows.get(name);
            if (byRow == null) {
                return null;
            }
            if (byRow == 1) {
                java.util.Arrays.fill(v, neuron * s.hidden(), (neuron + 1) * s.hidden(), 0f);
            } else {
                for (int r = 0; r < s.hidden(); r++) {
                    v[r * ffn + neuron] = 0;
                }
            }
            return v;
        });
        Scores sc = Sensitivity.compute(zeroed, null, new TrainData.TextFiles(valid(), 64, 4), 4, 2, Losses.slimMoe(), true,
                Device.cpu(), 0, Events.NONE);
        double[] e = sc.experts()[1][3];
        assertEquals(0.0, e[neuron]);
        assertTrue(IntStream.range(0, ffn).filter(i -> i != neuron).allMatch(i -> e[i] > 0), "every other neuron got a gradient");
        assertTrue(java.util.Arrays.stream(sc.groups()[0]).allMatch(g -> g > 0), "attention groups are scored");
        Selection sel = Selection.top(s, sc, new Target(ffn - 1, 0, s.kvHeads()));
        assertFalse(IntStream.of(sel.experts()[1][3]).anyMatch(i -> i == neuron), "the zero neuron is the first removed");
        assertEquals(ffn - 1, sel.experts()[1][3].length);
    }

    @Test
    void twoStagesWithAFewTokensBeatOneShotWithoutTraining(@TempDir Path tmp) {
        Path in = model("mixtral-tiny");
        ModelSpec s = spec(in);
        Target t = Target.of(s, 0.25, null);
        Path none = tmp.resolve("oneshot");
        SlimMoe.run(settings(t, 1, List.of(0L)), in, none, tmp.resolve("w1"), Events.NONE);
        Path two = tmp.resolve("two");
        SlimMoe.Run r = SlimMoe.run(settings(t, 2, List.of(1024L, 1024L)), in, two, tmp.resolve("w2"), Events.NONE);
        assertEquals(List.of(256, 128), r.targets().stream().map(Target::ffn).toList(), "geometric: 512 -> 256 -> 128");
        assertEquals(2048, r.tokens());
        EvalOptions eval = EvalOptions.of(List.of(shared().resolve("data/misc.test.txt"))).withWindows(64, 4).withReference(in);
        double klNone = Evaluator.evaluate(none, eval, Progress.NONE).overallKl().mean();
        double klTwo = Evaluator.evaluate(two, eval, Progress.NONE).overallKl().mean();
        assertTrue(klTwo < klNone, "KL two-stage " + klTwo + " vs one-shot without training " + klNone);
    }

    @Test
    void badTargetsAreRefusedNamingTheParameter() {
        ModelSpec s = spec(model("mixtral-tiny"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Target.of(s, 0, null)).getMessage().contains("expert_ffn"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Target.of(s, 0.5, 5)).getMessage().contains("kv_groups"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Target.of(spec(model("llama-tiny-seed")), 0.5, null))
                .getMessage().contains("no MoE layer"));
    }
}
