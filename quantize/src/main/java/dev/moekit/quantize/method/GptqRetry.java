package dev.moekit.quantize.method;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.ArrayList;
import java.util.List;

/**
 * GPTQ with GPTQModel's damping auto-increment: if the damped Hessian is not positive definite, raise
 * {@code dampPercent} by 0.0025 and retry (GPTQModel {@code damp_auto_increment}), up to a damping of 0.1; after that
 * the module falls back to RTN. On the host ({@link Gptq}) or, given a device, through DJL ({@link DeviceGptq}),
 * where several modules of one shape can go in one call ({@link #runAll}).
 */
final class GptqRetry {
    static final double STEP = 0.0025;
    static final double MAX_DAMP = 0.1;

    private GptqRetry() {
    }

    /** Quantized matrix (null when falling back) and the fallback reason (null when GPTQ succeeded). */
    record Outcome(QuantizedMatrix quantized, String fallback) {}

    private static Gptq.Params params(QuantScheme s, GptqQuantizer.Parameters g, double damp) {
        return new Gptq.Params(s, damp, g.actOrder(), g.blockSize(), g.clipSearch());
    }

    /** One module, on the host ({@code device} null) or on {@code device}. */
    static Outcome run(float[] weight, LinearModule m, Hessian h, QuantScheme s, GptqQuantizer.Parameters g, DType scaleType, Linalg la, Device device) {
        if (device == null) {
            float[] hm = h.matrix();
            return retry(g, damp -> Gptq.quantize(weight, m.rows(), m.cols(), hm, params(s, g, damp), scaleType, la).quantized());
        }
        Engines.inferenceMode();
        try (NDManager nm = Engines.newManager(device); NDArray h2 = h.deviceMatrix(nm); NDArray h3 = h2.reshape(1, m.cols(), m.cols())) {
            return retry(g, damp -> DeviceGptq.quantize(List.of(weight), m.rows(), m.cols(), h3, params(s, g, damp), scaleType).getFirst().quantized());
        }
    }

    private static Outcome retry(GptqQuantizer.Parameters g, java.util.function.DoubleFunction<QuantizedMatrix> attempt) {
        for (double damp = g.dampPercent(); damp <= MAX_DAMP + 1e-12; damp += STEP) {
            try {
                return new Outcome(attempt.apply(damp), null);
            } catch (Linalg.NotPositiveDefiniteException e) {
                // retry with more damping
            }
        }
        return new Outcome(null, "Hessian not positive definite up to damping " + MAX_DAMP);
    }

    /**
     * Modules of one shape and scheme on {@code device}, as many per DJL call as {@code batchBytes} of device memory
     * allow ({@link #deviceBytes}); a call whose Hessians are not all positive definite at the first damping is
     * redone module by module with {@link #run}. Outcomes in the order of {@code modules}.
     */
    static List<Outcome> runAll(List<float[]> weights, List<LinearModule> modules, List<Hessian> hessians, QuantScheme s,
                                GptqQuantizer.Parameters g, DType scaleType, Linalg la, Device device, long batchBytes) {
        int rows = modules.getFirst().rows();
        int cols = modules.getFirst().cols();
        int per = (int) Math.max(1, Math.min(modules.size(), batchBytes / deviceBytes(rows, cols)));
        List<Outcome> out = new ArrayList<>();
        Engines.inferenceMode();
        for (int from = 0; from < modules.size(); from += per) {
            int to = Math.min(modules.size(), from + per);
            if (to - from == 1) {
                out.add(run(weights.get(from), modules.get(from), hessians.get(from), s, g, scaleType, la, device));
                continue;
            }
            List<Gptq.Result> batch = null;
            try (NDManager nm = Engines.newManager(device)) {
                NDList hs = new NDList();
                for (int i = from; i < to; i++) {
                    hs.add(hessians.get(i).deviceMatrix(nm));
                }
                try (NDArray h = NDArrays.stack(hs)) {
                    hs.close();
                    batch = DeviceGptq.quantize(weights.subList(from, to), rows, cols, h, params(s, g, g.dampPercent()), scaleType);
                }
            } catch (Linalg.NotPositiveDefiniteException e) {
                // one of them needs more damping: each on its own, with retries
            }
            for (int i = from; i < to; i++) {
                out.add(batch != null ? new Outcome(batch.get(i - from).quantized(), null)
                        : run(weights.get(i), modules.get(i), hessians.get(i), s, g, scaleType, la, device));
            }
        }
        return out;
    }

    /** Device memory one [rows, cols] module takes in a {@link DeviceGptq} call, about: W^T, errors and a copy; H, its factor and work. */
    static long deviceBytes(int rows, int cols) {
        return Float.BYTES * (3L * rows * cols + 6L * cols * cols);
    }
}
