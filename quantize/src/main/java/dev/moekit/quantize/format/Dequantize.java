package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.transform.Convert;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a packed checkpoint (any format {@link QuantizedCheckpoint} reads: compressed-tensors, GPTQ) back into a plain
 * one: every quantized module's packed tensors become its dequantized {@code .weight}, every other floating tensor is
 * converted to the same dtype (so the result is one consistent checkpoint), integer tensors are copied, and
 * {@code quantization_config} and the format's own files are dropped. The result is what the packed model computes,
 * in a layout the eval runtime (and any loader) reads. The packed formats' {@code Dequantizer} runs it.
 */
public final class Dequantize {
    private Dequantize() {}

    /** Whether {@code dir}'s config declares a packed quantization format. */
    public static boolean isPacked(Path dir) {
        if (!Files.isRegularFile(dir.resolve(Checkpoint.CONFIG))) {
            return false;
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            return c.config().has(PackedFormat.CONFIG_KEY) && !c.config().path(PackedFormat.CONFIG_KEY).path("quant_method").asText().isEmpty();
        }
    }

    /** Writes the dequantized checkpoint of {@code packed} to {@code out}, weights in {@code dtype}. */
    public static Path run(Path packed, Path out, DType dtype, CheckpointWriter.Options writer) {
        try (QuantizedCheckpoint q = QuantizedCheckpoint.open(packed)) {
            Checkpoint c = q.checkpoint();
            Map<String, String> packedToModule = new HashMap<>();
            for (String m : q.modules().keySet()) {
                for (String n : c.names()) {
                    if (n.startsWith(m + ".") && !n.equals(m + ".bias")) {
                        packedToModule.put(n, m);
                    }
                }
            }
            List<TensorSpec> plan = new ArrayList<>();
            Map<String, QuantizedMatrix> byWeight = new HashMap<>();
            for (String n : c.names()) {
                String m = packedToModule.get(n);
                if (m == null) {
                    DType src = c.info(n).dtype();
                    plan.add(new TensorSpec(n, src.isFloating() && src.size() >= 2 ? dtype : src, c.info(n).shape()));
                } else if (!byWeight.containsKey(m + LinearModule.WEIGHT)) {
                    QuantizedMatrix qm = q.read(m);
                    byWeight.put(m + LinearModule.WEIGHT, qm);
                    plan.add(new TensorSpec(m + LinearModule.WEIGHT, dtype, new long[] {qm.rows(), qm.cols()}));
                }
            }
            ObjectNode config = c.config().deepCopy();
            config.remove(PackedFormat.CONFIG_KEY);
            Convert.setDtype(config, dtype);
            java.util.Set<String> formatFiles = q.format().files(q.quantizationConfig()).keySet();
            try (CheckpointWriter w = CheckpointWriter.create(out, plan, writer, packed)) {
                for (TensorSpec t : plan) {
                    QuantizedMatrix qm = byWeight.get(t.name());
                    if (qm != null) {
                        w.write(t.name(), qm.dequantize());
                    } else {
                        try (Arena a = Arena.ofShared()) {
                            w.writeConverted(t.name(), c.map(t.name(), a), c.info(t.name()).dtype());
                        }
                    }
                }
                for (Path f : c.otherFiles()) {
                    String name = f.getFileName().toString();
                    if (!formatFiles.contains(name)) { // e.g. quantize_config.json would tell loaders the weights are packed
                        w.copyFile(f);
                    }
                }
                return w.commit(config);
            }
        }
    }
}
