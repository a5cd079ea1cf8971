package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.transform.Convert;
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

    /**
     * This checkpoint as the plain fp32 one it stands for (what {@link Dequantize} would write), without writing
     * anything: every quantized module's packed tensors are replaced by its {@code <module>.weight}, dequantized from
     * the codes and grids each time it is read, straight into the reader's buffer in the dtype it asks for
     * ({@link Checkpoint#read}); every other floating tensor reads as fp32 (converted from the stored dtype on read,
     * exactly); the config drops {@code quantization_config} and says float32. The eval runtime loads it layer by layer
     * like any checkpoint, so a packed output is scored on exactly its packed weights with no dequantized copy on
     * disk. The view shares this checkpoint's files: close one of the two.
     */
    public Checkpoint plainView() {
        Map<String, Checkpoint.Computed> computed = new LinkedHashMap<>();
        Map<String, String> replaced = new LinkedHashMap<>();
        for (String m : modules.keySet()) {
            String weight = m + LinearModule.WEIGHT;
            if (checkpoint.has(weight)) {
                throw new CheckpointException(checkpoint.dir() + ": module '" + m + "' has both packed tensors and a plain '" + weight + "'");
            }
            for (String n : checkpoint.names()) {
                if (n.startsWith(m + ".") && !n.equals(m + ".bias")) {
                    replaced.put(n, weight);
                }
            }
            long[] shape = format.weightShape(checkpoint, m, modules.get(m));
            long bytes = shape[0] * shape[1] * DType.F32.size();
            computed.put(weight, new Checkpoint.Computed(new TensorInfo(weight, DType.F32, shape, 0, bytes), (dst, to) -> {
                QuantizedMatrix q = read(m);
                if (q.rows() != shape[0] || q.cols() != shape[1]) {
                    throw new CheckpointException(checkpoint.dir() + ": '" + m + "' reads back as " + q.rows() + "x" + q.cols() + ", its tensors say "
                            + shape[0] + "x" + shape[1]);
                }
                q.encodeInto(dst, to);
            }));
        }
        for (String n : checkpoint.names()) { // the rest in fp32 as well, as a dequantized copy holds them (one dtype throughout)
            TensorInfo t = checkpoint.info(n);
            if (!replaced.containsKey(n) && t.dtype().isFloating() && t.dtype().size() >= 2 && t.dtype() != DType.F32) {
                replaced.put(n, n);
                computed.put(n, new Checkpoint.Computed(new TensorInfo(n, DType.F32, t.shape(), 0, t.numel() * DType.F32.size()),
                        (dst, to) -> checkpoint.read(n, dst, to)));
            }
        }
        ObjectNode config = checkpoint.config().deepCopy();
        config.remove(PackedFormat.CONFIG_KEY);
        Convert.setDtype(config, DType.F32);
        return checkpoint.withComputed(computed, replaced, config);
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
