package dev.moekit.pipeline.recipe;

import dev.moekit.toolkit.method.Doc;
import java.util.List;
import java.util.Locale;

/**
 * How a recipe's result is evaluated (the {@code eval} key; {@code moekit eval} takes the same settings).
 *
 * @param data      text files or globs; relative to the recipe's folder (default: the reference {@code *.test.txt})
 * @param windows   windows per file (32)
 * @param window    tokens per window, bos included (256)
 * @param reference compare with the recipe's input model: KL divergence and top-1 agreement (true)
 * @param dtype     compute precision: fp32 (default) or fp16 (GPU only)
 * @param batch     windows per forward pass (8)
 * @param layerwise load one layer at a time, for models larger than device memory (false)
 */
public record EvalSettings(@Doc("text files or globs (default: the *.test.txt splits of the data folder)") List<String> data,
                           @Doc("windows per file") Integer windows,
                           @Doc("tokens per window, bos included") Integer window,
                           @Doc("compare with the input model: KL divergence and top-1 agreement") Boolean reference,
                           @Doc("compute precision: fp32 or fp16 (GPU only)") String dtype,
                           @Doc("windows per forward pass") Integer batch,
                           @Doc("load one layer at a time (models larger than device memory)") Boolean layerwise) {
    public EvalSettings {
        data = data == null ? List.of() : List.copyOf(data);
        windows = windows == null ? 32 : windows;
        window = window == null ? 256 : window;
        reference = reference == null || reference;
        dtype = dtype == null ? "fp32" : dtype.toLowerCase(Locale.ROOT);
        batch = batch == null ? 8 : batch;
        layerwise = layerwise != null && layerwise;
        if (windows < 1 || windows > 1_000_000) {
            throw new IllegalArgumentException("eval.windows must be in 1..1000000, got " + windows);
        }
        if (window < 2 || window > 1 << 20) {
            throw new IllegalArgumentException("eval.window must be in 2..1048576 tokens, got " + window);
        }
        if (batch < 1 || batch > 4096) {
            throw new IllegalArgumentException("eval.batch must be in 1..4096, got " + batch);
        }
        if (!dtype.equals("fp32") && !dtype.equals("fp16")) {
            throw new IllegalArgumentException("eval.dtype must be fp32 or fp16, got '" + dtype + "'");
        }
    }

    /** The defaults (reference on). */
    public static EvalSettings defaults() {
        return new EvalSettings(null, null, null, null, null, null, null);
    }

    public EvalSettings withData(List<String> d) {
        return new EvalSettings(d, windows, window, reference, dtype, batch, layerwise);
    }
}
