package dev.moekit.eval.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** Small operations checked against hand computations. */
class OpsTest {

    @Test
    void sparsemixerPicksTopTwoWithRelativeGapMasking() {
        try (NDManager m = Engines.newManager(Device.cpu())) {
            // row 0: experts 0 and 1 are within 2*eps of each other, so the first gate is a softmax over both;
            // the second pick sees only itself (gate 1). row 1: a clear winner, then a clear runner-up.
            NDArray logits = m.create(new float[] {2.0f, 1.99f, 0.5f, -1f, -3f, 4f, 0f, 1f}, new Shape(2, 4));
            Router.Decision d = Router.sparsemixer(logits, 2, 0.01);
            assertArrayEquals(new long[] {0, 1, 1, 3}, d.indices().toLongArray());
            double first = 1 / (1 + Math.exp(-0.01));
            assertArrayEquals(new float[] {(float) first, 1f, 1f, 1f}, d.weights().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void layerNormMatchesDefinition() {
        try (NDManager m = Engines.newManager(Device.cpu())) {
            NDArray x = m.create(new float[] {1, 2, 3, 6}, new Shape(1, 4));
            NDArray y = Ops.layerNorm(x, m.create(new float[] {1, 1, 2, 1}), m.create(new float[] {0, 1, 0, 0}), 0);
            double mean = 3;
            double sd = Math.sqrt((4 + 1 + 0 + 9) / 4.0);
            float[] want = {(float) (-2 / sd), (float) (-1 / sd + 1), 0f, (float) (3 / sd)};
            assertArrayEquals(want, y.toFloatArray(), 1e-6f);
        }
    }

    @Test
    void attentionMaskIsCausalHidesPaddingKeysAndHonoursTheWindow() {
        try (NDManager m = Engines.newManager(Device.cpu())) {
            NDArray att = m.create(new int[] {1, 1, 1, 0}, new Shape(1, 4));
            float[] full = Ops.attentionMask(m, att, 0).toFloatArray();
            float[] windowed = Ops.attentionMask(m, att, 2).toFloatArray();
            float x = Ops.MASKED;
            assertArrayEquals(new float[] {0, x, x, x, 0, 0, x, x, 0, 0, 0, x, 0, 0, 0, x}, full);
            assertArrayEquals(new float[] {0, x, x, x, 0, 0, x, x, x, 0, 0, x, x, x, 0, x}, windowed);
        }
    }
}
