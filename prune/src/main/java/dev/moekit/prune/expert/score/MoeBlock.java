package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.model.Routing;

/**
 * The routed part of an MoE block in fp64 for reconstruction losses: logits = W_r x, the family's routing, and
 * SwiGLU experts f_e(x) = W_down (silu(W_gate x) * (W_up x)). Shared experts are left out (they do not depend on
 * which routed experts exist). Holds all expert weights in memory: meant for NAEE's small expert counts.
 */
final class MoeBlock {
    private final int experts;
    private final int topK;
    private final int hidden;
    private final Routing routing;
    private final float[] router;      // [E, hidden]
    private final double[] bias;       // [E] selection bias or null
    private final float[][][] ffn;     // [E] {gate [ffn, hidden], up [ffn, hidden], down [hidden, ffn]}

    private MoeBlock(int experts, int topK, int hidden, Routing routing, float[] router, double[] bias, float[][][] ffn) {
        this.experts = experts;
        this.topK = topK;
        this.hidden = hidden;
        this.routing = routing;
        this.router = router;
        this.bias = bias;
        this.ffn = ffn;
    }

    static MoeBlock load(LayerContext ctx) {
        float[][][] w = new float[ctx.experts()][][];
        for (int e = 0; e < w.length; e++) {
            w[e] = ctx.weights().ffn(e);
        }
        return new MoeBlock(ctx.experts(), ctx.topK(), ctx.hidden(), ctx.routing(), ctx.router().get(),
                ctx.correctionBias().get(), w);
    }

    /** Router logits of token {@code t} of {@code x} [tokens, hidden]. */
    double[] logits(float[] x, int t) {
        double[] l = new double[experts];
        for (int e = 0; e < experts; e++) {
            double s = 0;
            for (int i = 0; i < hidden; i++) {
                s += (double) router[e * hidden + i] * x[t * hidden + i];
            }
            l[e] = s;
        }
        return l;
    }

    /** Every expert's output for token {@code t}: [E][hidden]. */
    double[][] allExperts(float[] x, int t) {
        double[][] out = new double[experts][];
        for (int e = 0; e < experts; e++) {
            out[e] = expert(e, x, t * hidden);
        }
        return out;
    }

    private double[] expert(int e, float[] x, int off) {
        float[] gate = ffn[e][0];
        float[] up = ffn[e][1];
        float[] down = ffn[e][2];
        int f = gate.length / hidden;
        double[] a = new double[f];
        for (int r = 0; r < f; r++) {
            double g = 0;
            double u = 0;
            for (int i = 0; i < hidden; i++) {
                g += (double) gate[r * hidden + i] * x[off + i];
                u += (double) up[r * hidden + i] * x[off + i];
            }
            a[r] = g / (1 + Math.exp(-g)) * u;
        }
        double[] y = new double[hidden];
        for (int o = 0; o < hidden; o++) {
            double s = 0;
            for (int r = 0; r < f; r++) {
                s += (double) down[o * f + r] * a[r];
            }
            y[o] = s;
        }
        return y;
    }

    /** Routed output sum over the chosen experts of gate x f_e, with {@code dropped} experts masked out. */
    double[] combine(double[] logits, double[][] f, boolean[] dropped) {
        RouterMath.Route r = RouterMath.route(logits, routing, bias, dropped, topK);
        double[] z = new double[hidden];
        for (int a = 0; a < r.experts().length; a++) {
            double g = r.gates()[a];
            double[] fe = f[r.experts()[a]];
            for (int i = 0; i < hidden; i++) {
                z[i] += g * fe[i];
            }
        }
        return z;
    }
}
