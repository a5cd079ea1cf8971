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
 */
public record RuntimeOptions(Device device, Precision precision, boolean layerwise, int batchSize) {
    public RuntimeOptions {
        if (device == null || precision == null) {
            throw new IllegalArgumentException("device and precision are required");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
    }

    /** fp32 on CPU, all layers resident, 8 windows per batch. */
    public static RuntimeOptions cpu() {
        return new RuntimeOptions(Device.cpu(), Precision.FP32, false, 8);
    }

    public RuntimeOptions withLayerwise(boolean on) {
        return new RuntimeOptions(device, precision, on, batchSize);
    }

    public RuntimeOptions withBatchSize(int n) {
        return new RuntimeOptions(device, precision, layerwise, n);
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
