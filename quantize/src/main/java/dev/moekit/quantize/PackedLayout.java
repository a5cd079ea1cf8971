package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import java.util.List;
import java.util.Map;

/** The tensors and config of one packed checkpoint format. */
interface PackedLayout {
    /** The tensors that replace {@code m}'s weight; {@code gIdx} when activation order was used. */
    List<TensorSpec> plan(LinearModule m, QuantScheme s, boolean gIdx, DType weightType);

    /** Writes {@code q} as planned. */
    void write(CheckpointWriter w, LinearModule m, QuantizedMatrix q, DType weightType);

    /** Reads module {@code module} back, with the scheme the config gives it. */
    QuantizedMatrix read(Checkpoint c, String module, QuantScheme s);

    /** The modules {@code c} holds in this format (found by their packed tensors). */
    List<String> modules(Checkpoint c);

    /** The dtype scales are stored in for weights of {@code weightType}. */
    DType scaleType(DType weightType);

    /**
     * The {@code quantization_config} for these modules and schemes; {@code keep} lists the linear modules left
     * unquantized (routers, lm_head, ...), {@code actOrder} whether g_idx was written.
     */
    ObjectNode config(Map<String, QuantScheme> schemes, List<String> keep, boolean actOrder);

    /** Scheme of {@code module} according to {@code quantizationConfig}, or null when the module is not quantized. */
    QuantScheme schemeOf(ObjectNode quantizationConfig, String module);
}
