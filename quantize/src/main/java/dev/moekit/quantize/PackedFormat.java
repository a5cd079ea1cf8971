package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.NoParams;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Plugin kind {@code format}: what a quantization writes for each quantized module and in {@code config.json}, and
 * how it is read back. A packed format replaces a module's {@code .weight} by its codes and grids
 * ({@link #plan}/{@link #write}), describes the schemes in {@code quantization_config} ({@link #config}), and reads both
 * back ({@link #reads}, {@link #modules}, {@link #schemeOf}, {@link #read}); packed formats also implement the pipeline's
 * {@code Dequantizer}, so evaluation scores what the packed weights hold. A format that is not {@link #packed} writes
 * dequantized values into the input's own tensors (fake-quant). See {@code dev.moekit.quantize.format}.
 *
 * <p>Adding a format (GGUF, say) is one class implementing this interface, one line in
 * {@code META-INF/services/dev.moekit.toolkit.method.Method}, and a subclass of the format contract test; the quantizer,
 * the recipe stage, the reader and evaluation find it in the registry.
 */
public interface PackedFormat extends Method<NoParams> {
    MethodKind<PackedFormat> KIND = new MethodKind<>("format", PackedFormat.class,
            "how quantized modules are stored and read back (compressed-tensors, GPTQ, fake-quant)");

    /** The {@code config.json} key that describes a packed checkpoint's quantization. */
    String CONFIG_KEY = "quantization_config";

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    @Override
    default Class<NoParams> parameters() {
        return NoParams.class;
    }

    @Override
    default Calibration calibration() {
        return Calibration.NONE;
    }

    /** Other spellings accepted for the name (lower case). */
    default List<String> aliases() {
        return List.of();
    }

    /** Whether modules are stored as codes and grids (else as dequantized values in the input's tensors). */
    default boolean packed() {
        return true;
    }

    /** Whether fused 3-D expert tensors can be written (formats that cannot are refused when the run is planned). */
    default boolean fusedExperts() {
        return false;
    }

    /**
     * Refuses a bit width this format cannot store (the default stores any width {@link QuantScheme} has); checked when
     * {@link QuantOptions} are made, so a recipe fails before anything runs.
     */
    default void checkWidth(int bits) {
    }

    /**
     * Refuses a scheme this format cannot store: its width ({@link #checkWidth}) and, by default, quantized group
     * scales ({@link QuantScheme#quantizedScales}), which no engine reads from compressed-tensors or GPTQ tensors;
     * formats that store them (fake-quant, which writes values) override this.
     */
    default void check(QuantScheme s) {
        checkWidth(s.bits());
        if (s.quantizedScales()) {
            throw new IllegalArgumentException("the " + name() + " format stores float group scales, not the quantized sub-block scales of "
                    + s + " (a GGUF k-quant); write fake-quant for its quality, or choose a scheme without /k");
        }
        if (s.codebook()) {
            throw new IllegalArgumentException("the " + name() + " format stores integer grids, not the codebooks of " + s
                    + "; write fake-quant for its quality, or choose a scheme without /vq");
        }
    }

    /** The dtype scales are stored in for weights of {@code weightType}. */
    DType scaleType(DType weightType);

    /**
     * The tensors that replace {@code source}, the input tensor holding module {@code m} (its first module when it is
     * fused); {@code gIdx} when a column-to-group map is written; {@code weightType} is the model's weight dtype.
     */
    List<TensorSpec> plan(TensorSpec source, LinearModule m, QuantScheme s, boolean gIdx, DType weightType);

    /** Writes {@code q} as planned ({@code weightType}: the dtype of the module's input tensor). */
    void write(CheckpointWriter w, LinearModule m, QuantizedMatrix q, DType weightType);

    /** Stored bits of {@code m} at scheme {@code s}: codes, scales, zero points, g_idx, word padding included. */
    long storedBits(LinearModule m, QuantScheme s, boolean gIdx, DType weightType);

    /**
     * The {@code quantization_config} for these modules and schemes, or null when the format writes none;
     * {@code keep} lists the linear modules left unquantized (routers, lm_head, ...), {@code actOrder} whether g_idx
     * was written.
     */
    ObjectNode config(Map<String, QuantScheme> schemes, List<String> keep, boolean actOrder);

    /** Files written beside {@code config.json} that engines read (e.g. GPTQ's {@code quantize_config.json}), by name. */
    default Map<String, JsonNode> files(ObjectNode quantizationConfig) {
        return Map.of();
    }

    /** Whether {@code quantizationConfig} describes a checkpoint in this format. */
    boolean reads(ObjectNode quantizationConfig);

    /** The modules {@code c} holds in this format (found by their packed tensors). */
    List<String> modules(Checkpoint c);

    /** Scheme of {@code module} according to {@code quantizationConfig}, or null when the module is not quantized. */
    QuantScheme schemeOf(ObjectNode quantizationConfig, String module);

    /** Reads module {@code module} back, with the scheme the config gives it. */
    QuantizedMatrix read(Checkpoint c, String module, QuantScheme s);

    /**
     * The {@code [rows, cols]} of {@code module}'s weight. Formats override this to answer from tensor metadata; the
     * default reads the module back.
     */
    default long[] weightShape(Checkpoint c, String module, QuantScheme s) {
        QuantizedMatrix q = read(c, module, s);
        return new long[] {q.rows(), q.cols()};
    }

    /** The registered format {@code name} (case, {@code -}/{@code _} and {@link #aliases} honoured). */
    static PackedFormat named(String name) {
        return Lookup.find(KIND, name, PackedFormat::aliases);
    }

    /** The registered format that reads {@code quantizationConfig}, if any. */
    static Optional<PackedFormat> reading(ObjectNode quantizationConfig) {
        return Methods.standard().kind(KIND).all().stream().filter(f -> f.reads(quantizationConfig)).findFirst();
    }

    /** Names of the registered formats that read their output back. */
    static List<String> readable() {
        return Methods.standard().kind(KIND).all().stream().filter(PackedFormat::packed).map(PackedFormat::name).toList();
    }
}
