package dev.moekit.eval.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training forward is the evaluation forward: {@link CausalLm#forward} gives {@link CausalLm#run}'s logits, and
 * inside a gradient collector its gradients reach the {@link Trainable} masters, through the MoE gate values for the
 * router, equal to finite differences.
 */
class TrainableForwardTest {
    private static TokenBatch batch() {
        int[][] rows = new int[2][12];
        for (int r = 0; r < 2; r++) {
            for (int t = 0; t < 12; t++) {
                rows[r][t] = (7 * t + 13 * r + 1) % 64;
            }
        }
        return TokenBatch.of(rows);
    }

    @Test
    void forwardGivesTheLogitsOfRunAndSelectingMastersChangesNothing(@TempDir Path tmp) {
        Path dir = TinyCheckpoints.builder("qwen2_moe").std(0.2).write(tmp.resolve("q"));   // shared experts + gate
        TokenBatch b = batch();
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            float[][] run = new float[1][];
            lm.run(List.of(b), ForwardObserver.NONE, (i, t, l) -> run[0] = l.toFloatArray());
            assertArrayEquals(run[0], logits(lm, b), "forward == run, bitwise");
            Trainable t = Trainable.select(lm, java.util.EnumSet.of(ParamGroup.ALL));
            assertTrue(t.params().stream().allMatch(p -> p.master().hasGradient()), "masters take gradients");
            assertTrue(t.params().stream().anyMatch(p -> p.role() == Role.SHARED_EXPERT_GATE));
            assertArrayEquals(run[0], logits(lm, b), "fp32 masters of bf16 weights are the same values");
        }
    }

    @Test
    void routerGradientsFlowThroughTheGateValuesAndMatchFiniteDifferences(@TempDir Path tmp) {
        Path dir = TinyCheckpoints.builder("mixtral").std(0.3).dtype(DType.F32).write(tmp.resolve("m"));
        TokenBatch b = batch();
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            Trainable t = Trainable.select(lm, java.util.EnumSet.of(ParamGroup.ROUTERS));
            assertEquals(2, t.params().size(), "one router per layer, nothing else");
            Trainable.Param router = t.params().getFirst();
            try (NDManager m = lm.manager().newSubManager(); GradientCollector gc = Engine.getEngine(Engines.PYTORCH).newGradientCollector()) {
                gc.backward(loss(lm, b, m));
            }
            float[] g;
            try (NDArray grad = JniUtils.getGradient((PtNDArray) router.master())) {
                g = grad.toFloatArray();
            }
            int at = 0;
            for (int i = 0; i < g.length; i++) {
                at = Math.abs(g[i]) > Math.abs(g[at]) ? i : at;
            }
            assertNotEquals(0f, g[at], "the router gets a gradient");
            float[] w = router.floats();
            float eps = 1e-3f;
            w[at] += eps;
            router.load(w);
            double up = lossValue(lm, b);
            w[at] -= 2 * eps;
            router.load(w);
            double down = lossValue(lm, b);
            double numeric = (up - down) / (2 * eps);
            assertEquals(numeric, g[at], 0.05 * Math.abs(numeric), "autograd " + g[at] + " vs finite differences " + numeric);
        }
    }

    /**
     * DJL's {@code mul(Number)} closes its scalar at once, which on CPU frees the buffer autograd kept for backward:
     * a GC between forward and backward then gave garbage gradients (-4e17 for {@code w * 3}). The runtime keeps such
     * scalars in the step's scope ({@code Ops.times}); this GC, with freed blocks refilled with NaN, changes nothing.
     */
    @Test
    void aGcBetweenForwardAndBackwardLeavesTheGradientsUnchanged(@TempDir Path tmp) throws Exception {
        Path dir = TinyCheckpoints.builder("mixtral").std(0.3).dtype(DType.F32).write(tmp.resolve("m"));
        TokenBatch b = batch();
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            Trainable t = Trainable.select(lm, java.util.EnumSet.of(ParamGroup.ATTENTION, ParamGroup.ROUTERS));
            float[] calm = gradients(lm, b, t, false);
            float[] stormy = gradients(lm, b, t, true);
            assertArrayEquals(calm, stormy);
        }
    }

    private static final List<java.nio.ByteBuffer> FLOOD = new java.util.ArrayList<>();

    /** The concatenated gradients of {@code t}'s first parameters after one backward, optionally with a GC in between. */
    private static float[] gradients(CausalLm lm, TokenBatch b, Trainable t, boolean gc) throws InterruptedException {
        try (NDManager m = lm.manager().newSubManager(); GradientCollector c = Engine.getEngine(Engines.PYTORCH).newGradientCollector()) {
            NDArray loss = loss(lm, b, m);
            if (gc) {
                for (int i = 0; i < 3; i++) {
                    System.gc();
                    Thread.sleep(20);
                }
                for (int i = 0; i < 20000; i++) {
                    FLOOD.add(java.nio.ByteBuffer.allocateDirect(8).putFloat(0, Float.NaN).putFloat(4, Float.NaN));
                }
            }
            c.backward(loss);
        } finally {
            FLOOD.clear();
        }
        List<Float> all = new java.util.ArrayList<>();
        for (Trainable.Param p : t.params()) {
            try (NDArray g = JniUtils.getGradient((PtNDArray) p.master())) {
                for (float f : g.toFloatArray()) {
                    all.add(f);
                }
            }
            JniUtils.zeroGrad((PtNDArray) p.master());
        }
        float[] r = new float[all.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = all.get(i);
        }
        return r;
    }

    private static float[] logits(CausalLm lm, TokenBatch b) {
        try (NDManager m = lm.manager().newSubManager()) {
            return lm.forward(b, m, ForwardObserver.NONE).toFloatArray();
        }
    }

    /** Mean next-token cross-entropy, in {@code m}. */
    private static NDArray loss(CausalLm lm, TokenBatch b, NDManager m) {
        NDArray logp = lm.forward(b, m, ForwardObserver.NONE).get(":, :-1, :").logSoftmax(-1);
        NDArray ids = m.create(b.ids(), new ai.djl.ndarray.types.Shape(b.rows(), b.length()))
                .toType(ai.djl.ndarray.types.DataType.INT64, false);
        return logp.gather(ids.get(":, 1:").expandDims(-1), -1).mean().neg();
    }

    private static double lossValue(CausalLm lm, TokenBatch b) {
        try (NDManager m = lm.manager().newSubManager()) {
            return loss(lm, b, m).getFloat();
        }
    }
}
