package dev.moekit.eval.runtime;

import ai.djl.Device;
import java.util.Locale;

/**
 * How a model runs on the DJL PyTorch engine.
 *
 * @param device    {@code Device.cpu()} or {@code Device.gpu(n)}; one code path serves both
 * @param precision compute dtype: fp32, or fp16 (meant for GPUs; it runs on CPU too, slowly, which tests use)
 * @param layerwise load one decoder layer at a time (for models that do not fit): every batch goes through layer
 *                  {@code l} before layer {@code l+1} is loaded, so weights are read once per pass
 * @param batchSize windows per forward pass (memory grows with it: attention holds {@code [B, heads, T, T]})
 * @param experts   how routed experts run ({@link ExpertDispatch}); {@code AUTO} picks by device
 */
public record RuntimeOptions(Device device, Precision precision, boolean layerwise, int batchSize,
                             ExpertDispatch experts) {
    public RuntimeOptions {
        if (device == null || precision == null || experts == null) {
            throw new IllegalArgumentException("device, precision and expert dispatch are required");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
    }

    public RuntimeOptions(Device device, Precision precision, boolean layerwise, int batchSize) {
        this(device, precision, layerwise, batchSize, ExpertDispatch.AUTO);
    }

    /**
     * How the routed experts of an MoE layer run. Both give the same numbers; they differ in kernel count.
     * <ul>
     *   <li>{@code SORTED}: (token, choice) pairs sorted by expert, one matmul chain per expert on its contiguous
     *       slice: no wasted work, three kernels and a few small ops per expert.</li>
     *   <li>{@code PADDED}: the sorted pairs laid out as {@code [E, M, hidden]} (M the busiest expert's count,
     *       others padded with a zero row) through the layer's stacked expert weights: three batched matmuls per
     *       layer whatever E, for the price of computing the padding. On a GPU the kernel count, not the
     *       arithmetic, bounds a small-batch MoE forward (docs/benchmarks.md, GPU section).</li>
     *   <li>{@code AUTO}: {@code PADDED} on GPUs, {@code SORTED} on CPU, where arithmetic dominates.</li>
     * </ul>
     * Calibration (observed layers), training (grad mode) and layers whose stacked weights were edited run
     * {@code SORTED} whatever the choice: their hooks see one expert at a time.
     */
    public enum ExpertDispatch { AUTO, SORTED, PADDED }

    /** Whether routed experts run padded on this device. */
    boolean paddedExperts() {
        return experts == ExpertDispatch.PADDED || (experts == ExpertDispatch.AUTO && device.isGpu());
    }

    public RuntimeOptions withExperts(ExpertDispatch d) {
        return new RuntimeOptions(device, precision, layerwise, batchSize, d);
    }

    /** fp32 on CPU, all layers resident, 8 windows per batch. */
    public static RuntimeOptions cpu() {
        return new RuntimeOptions(Device.cpu(), Precision.FP32, false, 8);
    }

    public RuntimeOptions withLayerwise(boolean on) {
        return new RuntimeOptions(device, precision, on, batchSize, experts);
    }

    public RuntimeOptions withBatchSize(int n) {
        return new RuntimeOptions(device, precision, layerwise, n, experts);
    }

    /** Parses {@code cpu}, {@code gpu}, {@code gpu:N} or {@code cuda:N}. */
    public static Device parseDevice(String s) {
        String d = s.toLowerCase(Locale.ROOT).trim();
        if (d.equals("cpu")) {
            return Device.cpu();
        }
        for (String prefix : new String[] {"gpu", "cuda"}) {
            if (d.equals(prefix)) {
                return Device.gpu(0);
            }
            if (d.startsWith(prefix + ":")) {
                try {
                    return Device.gpu(Integer.parseInt(d.substring(prefix.length() + 1)));
                } catch (NumberFormatException e) {
                    break;
                }
            }
        }
        throw new IllegalArgumentException("unknown device '" + s + "' (use cpu, gpu or gpu:N)");
    }
}
