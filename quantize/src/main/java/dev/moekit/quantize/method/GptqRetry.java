package dev.moekit.quantize.method;

import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;

/**
 * GPTQ with GPTQModel's damping auto-increment: if the damped Hessian is not positive definite, raise
 * {@code dampPercent} by 0.0025 and retry (GPTQModel {@code damp_auto_increment}), up to a damping of 0.1; after that
 * the module falls back to RTN.
 */
final class GptqRetry {
    static final double STEP = 0.0025;
    static final double MAX_DAMP = 0.1;

    private GptqRetry() {
    }

    /** Quantized matrix (null when falling back) and the fallback reason (null when GPTQ succeeded). */
    record Outcome(QuantizedMatrix quantized, String fallback) {}

    static Outcome run(float[] weight, LinearModule m, Hessian h, QuantScheme s, GptqQuantizer.Parameters g, DType scaleType, Linalg la) {
        float[] hm = h.matrix();
        for (double damp = g.dampPercent(); damp <= MAX_DAMP + 1e-12; damp += STEP) {
            try {
                Gptq.Params p = new Gptq.Params(s, damp, g.actOrder(), g.blockSize(), g.clipSearch());
                return new Outcome(Gptq.quantize(weight, m.rows(), m.cols(), hm, p, scaleType, la).quantized(), null);
            } catch (Linalg.NotPositiveDefiniteException e) {
                // retry with more damping
            }
        }
        return new Outcome(null, "Hessian not positive definite up to damping " + MAX_DAMP);
    }
}
