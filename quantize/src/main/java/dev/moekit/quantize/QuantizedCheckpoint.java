package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a packed checkpoint moekit wrote (compressed-tensors {@code pack-quantized} or GPTQ) back to fp32 weights,
 * so a packed output can be evaluated like any other checkpoint: {@link #weight} returns the dequantized
 * {@code <module>.weight} for quantized modules and the stored tensor for everything else. Formats and the
 * dequantization formula are those of {@link CompressedTensorsLayout} and {@link GptqLayout}.
 */
public final class QuantizedCheckpoint implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final PackedLayout layout;
    private final Map<String, QuantScheme> modules = new LinkedHashMap<>();

    private QuantizedCheckpoint(Checkpoint checkpoint, PackedLayout layout, ObjectNode qc) {
        this.checkpoint = checkpoint;
        this.layout = layout;
        for (String m : layout.modules(checkpoint)) {
            QuantScheme s = layout.schemeOf(qc, m);
            if (s == null) {
                throw new CheckpointException(checkpoint.dir() + ": module '" + m + "' has packed tensors but the quantization_config leaves it unquantized");
            }
            modules.put(m, s);
        }
    }

    public static QuantizedCheckpoint open(Path dir) {
        Checkpoint c = Checkpoint.open(dir);
        try {
            JsonNode qc = c.config().path(Quantizer.CONFIG_KEY);
            if (!(qc instanceof ObjectNode o)) {
                throw new CheckpointException(dir + ": config.json has no quantization_config");
            }
            String method = o.path("quant_method").asText();
            PackedLayout layout = switch (method) {
                case "compressed-tensors" -> {
                    if (!o.path("format").asText().equals("pack-quantized")) {
                        throw new CheckpointException(dir + ": compressed-tensors format '" + o.path("format").asText() + "' is not supported (pack-quantized only)");
                    }
                    yield new CompressedTensorsLayout();
                }
                case "gptq" -> new GptqLayout();
                default -> throw new CheckpointException(dir + ": quant_method '" + method + "' is not supported (compressed-tensors, gptq)");
            };
            return new QuantizedCheckpoint(c, layout, o);
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

    /** The stored codes and grids of {@code module}. */
    public QuantizedMatrix read(String module) {
        QuantScheme s = modules.get(module);
        if (s == null) {
            throw new IllegalArgumentException(checkpoint.dir() + ": '" + module + "' is not a quantized module");
        }
        return layout.read(checkpoint, module, s);
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
