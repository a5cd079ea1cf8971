package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.eval.Dequantizer;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import java.nio.file.Path;

/**
 * A packed format that evaluation can read back: recognises checkpoints whose {@code quantization_config} it
 * {@link #reads}; evaluation reads them through {@link QuantizedCheckpoint#plainView} (dequantized as loaded),
 * {@link Dequantize} writes a plain copy.
 */
abstract class DequantizingFormat implements PackedFormat, Dequantizer {
    @Override
    public boolean recognizes(Checkpoint c) {
        return c.config().get(CONFIG_KEY) instanceof ObjectNode qc && reads(qc);
    }

    @Override
    public void dequantize(Path packed, Path out, DType dtype) {
        Dequantize.run(packed, out, dtype, CheckpointWriter.Options.defaults());
    }

    @Override
    public Checkpoint open(Path packed) {
        QuantizedCheckpoint q = QuantizedCheckpoint.open(packed);
        try {
            return q.plainView();
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return name();
    }
}
