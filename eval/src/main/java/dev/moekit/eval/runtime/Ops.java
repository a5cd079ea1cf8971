package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.ModelSpec;

/**
 * The tensor operations of a decoder, written once for CPU and GPU. Activations are always the first operand so that
 * results land in the activation's (scoped) manager, never in a weight manager.
 */
final class Ops {
    /** Additive mask value for disallowed keys; softmax runs in fp32, where exp(-1e9) is exactly 0. */
    static final float MASKED = -1e9f;

    private Ops() {}

    /**
     * {@code x} in {@code dtype}. With autograd off (evaluation) a plain {@code toType}. With it on (training) a
     * differentiable copy into a new array: DJL's {@code toType} runs under libtorch's {@code NoGradGuard} and would
     * cut the graph at every fp16/fp32 boundary.
     */
    static NDArray cast(NDArray x, DataType dtype) {
        if (x.getDataType() == dtype) {
            return x;
        }
        if (!JniUtils.isGradMode()) {
            return x.toType(dtype, false);
        }
        NDArray y = x.getManager().zeros(x.getShape(), dtype);
        y.set(ALL, x);
        return y;
    }

    private static final NDIndex ALL = new NDIndex("...");

    /**
     * {@code x * v}, as {@code x.mul(v)} computes it, but the scalar array stays in {@code x}'s manager until that
     * closes. DJL's {@code mul(Number)} closes its scalar at once, and on CPU that frees the Java buffer the tensor
     * wraps; autograd keeps the scalar for backward and would read freed memory once the GC runs. Every multiplication
     * or division by a number on a differentiable path goes through here (additions are safe: their backward keeps
     * no operand).
     */
    static NDArray times(NDArray x, double v) {
        return x.mul(scalar(x, v));
    }

    private record ScalarKey(ai.djl.Device device, double value) {}

    private static final java.util.Map<ScalarKey, NDArray> SCALARS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The 0-dim float64 array of {@code v} on {@code like}'s device, the one DJL's {@code add(Number)} would create,
     * made once per (device, value) and kept for the JVM's life: on a GPU each fresh scalar is a copy from host
     * memory, which libtorch makes wait for the whole stream, so a scalar made per op stalled the host on the device
     * several times per layer. Resident, it is also safe for autograd to keep (see {@link #times}).
     */
    static NDArray scalar(NDArray like, double v) {
        return SCALARS.computeIfAbsent(new ScalarKey(like.getDevice(), v),
                k -> ai.djl.engine.Engine.getEngine(Engines.PYTORCH).newBaseManager(k.device()).create(k.value()));
    }

    /** {@code y = x W^T + b}: x {@code [..., in]}, W {@code [out, in]}, b {@code [out]} or null. */
    static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return (b == null ? Linear.linear(x, w) : Linear.linear(x, w, b)).singletonOrThrow();
    }

    /**
     * RMSNorm (Zhang and Sennrich 2019) as transformers computes it: in fp32,
     * {@code y = w * (x / sqrt(mean(x^2) + eps))}, cast back to the input dtype before the weight multiply.
     */
    static NDArray rmsNorm(NDArray x, NDArray w, double eps) {
        DataType dt = x.getDataType();
        NDArray xf = cast(x, DataType.FLOAT32);
        NDArray rms = xf.square().mean(new int[] {-1}, true).add(scalar(xf, eps)).sqrt();
        return cast(xf.div(rms), dt).mul(w);
    }

    /**
     * LayerNorm (Ba et al. 2016) in fp32: {@code y = (x - mean) / sqrt(var + eps) * w + b}, cast back to the input
     * dtype (Phi-3.5-MoE).
     */
    static NDArray layerNorm(NDArray x, NDArray w, NDArray b, double eps) {
        DataType dt = x.getDataType();
        NDArray xf = cast(x, DataType.FLOAT32);
        NDArray centred = xf.sub(xf.mean(new int[] {-1}, true));
        NDArray std = centred.square().mean(new int[] {-1}, true).add(scalar(xf, eps)).sqrt();
        NDArray y = cast(centred.div(std), dt).mul(w);
        return b == null ? y : y.add(b);
    }

    /** The family's normalisation: RMSNorm, or LayerNorm with its optional bias. */
    static NDArray norm(ModelSpec spec, NDArray x, NDArray w, NDArray b) {
        return spec.norm() == Family.Norm.LAYER ? layerNorm(x, w, b, spec.normEps()) : rmsNorm(x, w, spec.normEps());
    }

    /** {@code silu(x) = x * sigmoid(x)}. */
    static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /**
     * RoPE tables (Su et al. 2021, transformers' rotate-half layout) for positions {@code 0..T-1}:
     * {@code inv_freq_i = theta^(-2i/d)}, angle {@code = p * inv_freq}, duplicated over both halves. Returns
     * {@code [cos, sin]}, each {@code [T, d]} in {@code dtype}. {@code positionScale} divides positions (linear
     * scaling; 1 for default RoPE).
     */
    static NDArray[] ropeTables(NDManager m, int tokens, int dim, double theta, double positionScale, DataType dtype) {
        int half = dim / 2;
        float[] cos = new float[tokens * dim];
        float[] sin = new float[tokens * dim];
        for (int i = 0; i < half; i++) {
            double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / dim);
            for (int p = 0; p < tokens; p++) {
                double a = (p / positionScale) * invFreq;
                float c = (float) Math.cos(a);
                float s = (float) Math.sin(a);
                cos[p * dim + i] = c;
                cos[p * dim + i + half] = c;
                sin[p * dim + i] = s;
                sin[p * dim + i + half] = s;
            }
        }
        Shape shape = new Shape(tokens, dim);
        return new NDArray[] {m.create(cos, shape).toType(dtype, false), m.create(sin, shape).toType(dtype, false)};
    }

    /** {@code x * cos + rotate_half(x) * sin} with {@code rotate_half([a, b]) = [-b, a]}; x {@code [B, h, T, d]}. */
    static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
        long d = x.getShape().get(3);
        NDArray a = x.get("..., :" + d / 2);
        NDArray b = x.get("..., " + d / 2 + ":");
        NDArray rotated = b.neg().concat(a, -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /**
     * Additive attention mask {@code [B, 1, T, T]} in fp32: 0 where query i may see key j (causal {@code j <= i},
     * key not padding, and {@code i - j < window} when a sliding window is set), {@link #MASKED} elsewhere.
     *
     * @param attention {@code [B, T]} 1 for tokens, 0 for (right) padding
     */
    static NDArray attentionMask(NDManager m, NDArray attention, int window) {
        long b = attention.getShape().get(0);
        long t = attention.getShape().get(1);
        NDArray i = m.arange(0, (int) t, 1, DataType.INT64).reshape(t, 1);
        NDArray j = m.arange(0, (int) t, 1, DataType.INT64).reshape(1, t);
        NDArray allowed = j.lte(i);                                           // [T, T]
        if (window > 0) {
            allowed = allowed.logicalAnd(i.sub(j).lt(window));
        }
        NDArray keys = attention.reshape(b, 1, 1, t).gt(0);                   // [B, 1, 1, T]
        NDArray ok = allowed.reshape(1, 1, t, t).logicalAnd(keys);            // [B, 1, T, T]
        return ok.toType(DataType.FLOAT32, false).sub(1f).mul(-MASKED);
    }
}
