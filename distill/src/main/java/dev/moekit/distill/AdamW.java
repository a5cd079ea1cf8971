package dev.moekit.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.eval.runtime.Trainable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW on the fp32 masters of a {@link Trainable}, written with NDArray ops so it runs where the weights are:
 * {@code m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr (wd w + (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps))},
 * weight decay on matrices only. A parameter that got no gradient this step (an expert no token reached) is updated
 * with a zero gradient, as with Megatron's zeroed gradient buffers (torch's {@code set_to_none} would skip it): then
 * whether a gradient tensor exists yet never matters, and a resumed run, whose gradients start undefined, updates
 * exactly as the uninterrupted one. Runs with grad mode off; every temporary lives in an {@link NDScope}, and
 * gradients are zeroed in place after the update.
 */
final class AdamW {
    private final Optim o;
    private final List<Trainable.Param> params;
    private final List<NDArray> m = new ArrayList<>();
    private final List<NDArray> v = new ArrayList<>();
    private long t;

    AdamW(Trainable trainable, Optim o) {
        this.o = o;
        this.params = trainable.params();
        for (Trainable.Param p : params) {
            m.add(p.master().zerosLike());
            v.add(p.master().zerosLike());
        }
    }

    /**
     * The global L2 norm of the gradients times {@code invScale} (to undo loss scaling); NaN or infinite when any
     * gradient is (fp16 overflow).
     */
    double gradNorm(double invScale) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray total = null;
            for (Trainable.Param p : params) {
                NDArray g = JniUtils.getGradient((PtNDArray) p.master());
                if (g == null) {
                    continue;
                }
                NDArray sq = g.square().sum();
                total = total == null ? sq : total.add(sq);
            }
            return total == null ? 0 : Math.sqrt(total.getFloat()) * invScale;
        }
    }

    /** One update at learning rate {@code lr}, gradients multiplied by {@code gradScale} (unscaling and clipping). */
    void step(double lr, double gradScale) {
        float b1 = (float) o.beta1();
        float b2 = (float) o.beta2();
        t++;
        double bc1 = 1 - Math.pow(o.beta1(), t);
        double bc2 = 1 - Math.pow(o.beta2(), t);
        for (int i = 0; i < params.size(); i++) {
            NDArray w = params.get(i).master();
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray g = JniUtils.getGradient((PtNDArray) w);
                if (g == null) {
                    m.get(i).muli(b1);                       // a zero gradient
                    v.get(i).muli(b2);
                } else {
                    if (gradScale != 1) {
                        g = g.mul((float) gradScale);
                    }
                    m.get(i).muli(b1).addi(g.mul(1 - b1));
                    v.get(i).muli(b2).addi(g.square().muli(1 - b2));
                }
                NDArray denom = v.get(i).sqrt().divi((float) Math.sqrt(bc2)).addi((float) o.eps());
                if (o.weightDecay() > 0 && params.get(i).matrix()) {
                    w.muli((float) (1 - lr * o.weightDecay()));
                }
                w.subi(m.get(i).div(denom).muli((float) (lr / bc1)));
            }
        }
        zeroGrad();
    }

    /** Zeroes every gradient in place (after an update, or to drop an overflowed step). */
    void zeroGrad() {
        for (Trainable.Param p : params) {
            JniUtils.zeroGrad((PtNDArray) p.master());
        }
    }

    /** Moments and step counts, for a training-state checkpoint. */
    List<float[]> moments(boolean second) {
        List<float[]> out = new ArrayList<>();
        for (NDArray a : second ? v : m) {
            out.add(a.toFloatArray());
        }
        return out;
    }

    /** Updates applied so far (the bias-correction step). */
    long steps() {
        return t;
    }

    /** Restores moments and the update count saved by {@link #moments} and {@link #steps}. */
    void restore(List<float[]> first, List<float[]> second, long steps) {
        for (int i = 0; i < params.size(); i++) {
            m.get(i).set(FloatBuffer.wrap(first.get(i)));
            v.get(i).set(FloatBuffer.wrap(second.get(i)));
        }
        t = steps;
    }
}
