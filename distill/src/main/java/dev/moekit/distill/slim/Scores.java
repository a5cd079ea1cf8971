package dev.moekit.distill.slim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.eval.runtime.Trainable;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;

/**
 * First-order sensitivities {@code sum |W * dL/dW|} of SlimMoE's prunable units, accumulated over micro-batches
 * (the absolute value is taken per micro-batch, then summed):
 * <ul>
 *   <li>an expert neuron {@code i}: row {@code i} of gate (w1) and up (w3) plus column {@code i} of down (w2);</li>
 *   <li>a shared-expert neuron: the same over the shared expert's three matrices;</li>
 *   <li>a GQA group {@code g}: the rows of its {@code heads/kv} query heads in q (and q's bias), its rows in k and v
 *       (and their biases) and the matching columns of o.</li>
 * </ul>
 *
 * @param experts {@code [layer][expert][neuron]} ({@code [layer]} empty for dense layers)
 * @param shared  {@code [layer][neuron]}, null where a layer has no shared expert
 * @param groups  {@code [layer][kv group]} (zeros when attention was not scored)
 */
public record Scores(double[][][] experts, double[][] shared, double[][] groups) {
    /** Zero scores shaped for {@code spec}. */
    static Scores zeros(ModelSpec spec) {
        double[][][] ex = new double[spec.layers()][][];
        double[][] sh = new double[spec.layers()][];
        double[][] gr = new double[spec.layers()][];
        for (int l = 0; l < spec.layers(); l++) {
            LayerSpec ls = spec.layer(l);
            ex[l] = new double[ls.moe() ? ls.experts() : 0][ls.expertFfn()];
            sh[l] = ls.moe() && ls.sharedFfn() > 0 ? new double[ls.sharedFfn()] : null;
            gr[l] = new double[spec.kvHeads()];
        }
        return new Scores(ex, sh, gr);
    }

    /** Adds {@code |W * grad|} of every trainable parameter that belongs to a unit (grad mode off). */
    void accumulate(ModelSpec spec, Trainable params) {
        for (Trainable.Param p : params.params()) {
            if (p.role() == null) {
                continue;
            }
            double[] target = null;
            int axis;
            switch (p.role()) {
                case EXPERT_GATE, EXPERT_UP -> { target = experts[p.layer()][p.expert()]; axis = 1; }
                case EXPERT_DOWN -> { target = experts[p.layer()][p.expert()]; axis = 0; }
                case SHARED_GATE, SHARED_UP -> { target = shared[p.layer()]; axis = 1; }
                case SHARED_DOWN -> { target = shared[p.layer()]; axis = 0; }
                case Q, K, V -> axis = 1;
                case O -> axis = 0;
                case Q_BIAS, K_BIAS, V_BIAS -> axis = -1;
                default -> { continue; }
            }
            double[] perRow = saliency(p.master(), axis);
            if (perRow == null) {
                continue;                                   // no gradient reached it (an expert no token chose)
            }
            if (target != null) {
                add(target, perRow, p.key());
            } else {
                int d = spec.headDim();
                int perGroup = p.role() == Role.Q || p.role() == Role.Q_BIAS || p.role() == Role.O ? d * (spec.heads() / spec.kvHeads()) : d;
                double[] g = groups[p.layer()];
                if (perRow.length != (long) perGroup * g.length) {
                    throw new IllegalStateException(p.key() + ": " + perRow.length + " head rows, expected " + perGroup + " x " + g.length);
                }
                for (int i = 0; i < perRow.length; i++) {
                    g[i / perGroup] += perRow[i];
                }
            }
        }
    }

    private static void add(double[] target, double[] v, String key) {
        if (target.length != v.length) {
            throw new IllegalStateException(key + ": " + v.length + " neurons, expected " + target.length);
        }
        for (int i = 0; i < v.length; i++) {
            target[i] += v[i];
        }
    }

    /** {@code |W * grad|} summed over {@code axis} of a matrix (1: per row, 0: per column; -1: a vector), or null. */
    private static double[] saliency(NDArray w, int axis) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray g = JniUtils.getGradient((PtNDArray) w);
            if (g == null) {
                return null;
            }
            NDArray s = w.mul(g).abs();
            if (axis >= 0) {
                s = s.sum(new int[] {axis});
            }
            float[] f = s.toFloatArray();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
    }
}
