package dev.moekit.eval.runtime;

import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.io.DType;

/**
 * Compute dtype of the runtime. Checkpoints in bf16 are converted in Java before they reach DJL (its JNI cannot hold
 * bf16): to fp32 on CPU, to fp16 or fp32 on GPU. Softmaxes, norms statistics and log-probabilities run in fp32
 * whatever the compute dtype.
 */
public enum Precision {
    FP32(DataType.FLOAT32, DType.F32), FP16(DataType.FLOAT16, DType.F16);

    private final DataType djl;
    private final DType storage;

    Precision(DataType djl, DType storage) {
        this.djl = djl;
        this.storage = storage;
    }

    /** The DJL data type of weights and activations. */
    public DataType dataType() {
        return djl;
    }

    /** The safetensors dtype that weights are converted to before they are handed to DJL. */
    public DType storage() {
        return storage;
    }

    /** Parses {@code fp32}/{@code float32}/{@code fp16}/{@code float16} (case-insensitive). */
    public static Precision parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32", "float32", "f32" -> FP32;
            case "fp16", "float16", "f16", "half" -> FP16;
            default -> throw new IllegalArgumentException("unknown precision '" + s + "' (use fp32 or fp16)");
        };
    }
}
