package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a packed checkpoint (any registered {@link PackedFormat} that {@link PackedFormat#reads reads} its
 * {@code quantization_config}: compressed-tensors {@code pack-quantized}, GPTQ) back to fp32 weights, so a packed
 * output can be evaluated like any other checkpoint: {@link #weight} returns the dequantized {@code <module>.weight}
 * for quantized modules and the stored tensor for everything else.
 */
public final class QuantizedCheckpoint implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final PackedFormat format;
    private final Map<String, QuantScheme> modules = new LinkedHashMap<>();
    private final ObjectNode config;

    private QuantizedCheckpoint(Checkpoint checkpoint, PackedFormat format, ObjectNode qc) {
        this.checkpoint = checkpoint;
        this.format = format;
        this.config = qc;
        for (String m : format.modules(checkpoint)) {
            QuantScheme s = format.schemeOf(qc, m);
            if (s == null) {
                throw new CheckpointException(checkpoint.dir() + ": module '" + m + "' has packed tensors but the quantization_config leaves it unquantized");
            }
            modules.put(m, s);
        }
    }

    public static QuantizedCheckpoint open(Path dir) {
        Checkpoint c = Checkpoint.open(dir);
        try {
            JsonNode qc = c.config().path(PackedFormat.CONFIG_KEY);
            if (!(qc instanceof ObjectNode o)) {
                throw new CheckpointException(dir + ": config.json has no quantization_config");
            }
            PackedFormat format = PackedFormat.reading(o).orElseThrow(() -> new CheckpointException(dir + ": quant_method '"
                    + o.path("quant_method").asText() + "'" + (o.has("format") ? " with format '" + o.path("format").asText() + "'" : "")
                    + " is not supported (readable: " + String.join(", ", PackedFormat.readable()) + ")"));
            return new QuantizedCheckpoint(c, format, o);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Quantized modules and their schemes. */
    public Map<String, QuantScheme> modules() {
        return java.util.Collections.unmodifiableMap(modules);
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** The format that reads it. */
    public PackedFormat format() {
        return format;
    }

    /** Its {@code quantization_config}. */
    public ObjectNode quantizationConfig() {
        return config.deepCopy();
    }

    /** The stored codes and grids of {@code module}. */
    public QuantizedMatrix read(String module) {
        QuantScheme s = modules.get(module);
        if (s == null) {
            throw new IllegalArgumentException(checkpoint.dir() + ": '" + module + "' is not a quantized module");
        }
        return format.read(checkpoint, module, s);
    }

    /** fp32 values of {@code tensor}: dequantized for {@code <module>.weight} of a quantized module, else as stored. */
    public float[] weight(String tensor) {
        String module = LinearModule.moduleOf(tensor);
        if (tensor.endsWith(LinearModule.WEIGHT) && modules.containsKey(module)) {
            return read(module).dequantize();
        }
        return checkpoint.floats(tensor);
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
