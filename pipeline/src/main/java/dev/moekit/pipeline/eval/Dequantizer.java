package dev.moekit.pipeline.eval;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import java.nio.file.Path;

/**
 * Reads a packed checkpoint format back as plain weights, so that evaluation scores exactly what the packed weights
 * hold: evaluation through {@link #open} (no copy on disk), tools that need a plain folder through {@link #dequantize}. Packed output formats (the quantize module's compressed-tensors and GPTQ) implement it; {@link Evaluation}
 * finds them among the registered methods.
 */
public interface Dequantizer {
    /** Whether {@code c} is in this format. */
    boolean recognizes(Checkpoint c);

    /** Writes the dequantized checkpoint of {@code packed} to {@code out} (which must not exist), weights in {@code dtype}. */
    void dequantize(Path packed, Path out, DType dtype);

    /**
     * Opens {@code packed} as the plain checkpoint it stands for, writing nothing: each quantized weight is
     * dequantized when it is read, straight into the reader's buffer ({@link Checkpoint#withComputed}). Closing the
     * result closes the packed checkpoint.
     */
    Checkpoint open(Path packed);
}
