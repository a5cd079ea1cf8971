package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Format {@code compressed-tensors}: compressed-tensors {@code pack-quantized} (neuralmagic/compressed-tensors,
 * {@code compressors/quantized_compressors/pack_quantized.py}, {@code PackedQuantizationCompressor}), read by vLLM and
 * transformers. Per module {@code <m>}:
 * <ul>
 *   <li>{@code <m>.weight_packed} I32 [out, ceil(in / (32/bits))]: signed codes {@code q - 2^(bits-1)} shifted back to
 *       unsigned (so the stored value is our unsigned code), {@code 32/bits} per word, value i at bits
 *       {@code [bits*i, bits*(i+1))} ({@code pack_to_int32}, packed_dim 1);</li>
 *   <li>{@code <m>.weight_scale} [out, groups] in the weight's dtype;</li>
 *   <li>{@code <m>.weight_zero_point} I32 [ceil(out / (32/bits)), groups], asymmetric only: zero points packed the same
 *       way along dim 0;</li>
 *   <li>{@code <m>.weight_shape} I64 [2] = [out, in] (what {@code torch.tensor(weight.shape)} saves);</li>
 *   <li>{@code <m>.weight_g_idx} I32 [in], with activation order ({@code actorder: "group"}).</li>
 * </ul>
 * Dequantization is {@code (q_signed - zp_signed) * scale}, equal to our {@code scale * (q - zero)}.
 *
 * <p>{@code quantization_config}: {@code quant_method: "compressed-tensors"}, {@code format: "pack-quantized"},
 * {@code quantization_status: "compressed"}, one config group per distinct scheme ({@code weights}: num_bits,
 * type int, symmetric, strategy {@code group}/{@code channel}, group_size, actorder, dynamic false, observer minmax).
 * The group holding the most modules targets the class {@code "Linear"}; the others list exact module names, which
 * vLLM and compressed-tensors match before class names. Every linear module left unquantized is listed in
 * {@code ignore}. vLLM's fused-MoE kernels need one scheme for all experts of a layer.
 *
 * <p>Stored bits: codes {@code rows*cols*bits}, scales {@code rows*groups*scaleBits}, zero points
 * {@code rows*groups*bits} when asymmetric, g_idx {@code 32*cols} with activation order.
 */
public final class CompressedTensorsFormat extends DequantizingFormat {
    static final String PACKED = ".weight_packed";
    static final String SCALE = ".weight_scale";
    static final String ZERO = ".weight_zero_point";
    static final String SHAPE = ".weight_shape";
    static final String G_IDX = ".weight_g_idx";
    static final String LINEAR = "Linear";

    @Override
    public String name() {
        return "compressed-tensors";
    }

    @Override
    public String summary() {
        return "compressed-tensors pack-quantized int32 words, one config group per scheme (vLLM, transformers)";
    }

    @Override
    public String reference() {
        return "https://github.com/neuralmagic/compressed-tensors";
    }

    @Override
    public boolean reads(ObjectNode qc) {
        return qc.path("quant_method").asText().equals("compressed-tensors") && qc.path("format").asText().equals("pack-quantized");
    }

    @Override
    public long storedBits(LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        return bits(m, s, gIdx, weightType);
    }

    /**
     * {@link #storedBits}, also the accounting of fake-quant outputs (the size they would pack to): the int32 words the
     * codes and zero points take, padding included ({@code 32 / bits} values a word, so 3 bits cost 3.2 a weight and
     * 5 or 6 bits 5.33 or 6.4), the scales in their dtype and the g_idx.
     */
    static long bits(LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        int groupsPerRow = s.groups(m.cols());
        long groups = (long) m.rows() * groupsPerRow;
        long bits = 32L * m.rows() * BitPacking.alignedWords(m.cols(), s.bits()) + groups * scale(weightType).size() * 8L;
        if (!s.symmetric()) {
            bits += 32L * BitPacking.alignedWords(m.rows(), s.bits()) * groupsPerRow;
        }
        if (gIdx && s.groupSize() > 0) {
            bits += 32L * m.cols();
        }
        return bits;
    }

    @Override
    public List<TensorSpec> plan(TensorSpec source, LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        int groups = s.groups(m.cols());
        List<TensorSpec> t = new ArrayList<>();
        t.add(new TensorSpec(m.module() + PACKED, DType.I32, new long[] {m.rows(), BitPacking.alignedWords(m.cols(), s.bits())}));
        t.add(new TensorSpec(m.module() + SCALE, scaleType(weightType), new long[] {m.rows(), groups}));
        if (!s.symmetric()) {
            t.add(new TensorSpec(m.module() + ZERO, DType.I32, new long[] {BitPacking.alignedWords(m.rows(), s.bits()), groups}));
        }
        t.add(new TensorSpec(m.module() + SHAPE, DType.I64, new long[] {2}));
        if (gIdx) {
            t.add(new TensorSpec(m.module() + G_IDX, DType.I32, new long[] {m.cols()}));
        }
        return t;
    }

    @Override
    public void write(CheckpointWriter w, LinearModule m, QuantizedMatrix q, DType weightType) {
        int bits = q.scheme().bits();
        w.write(m.module() + PACKED, dst -> BitPacking.packRowsInto(q.codes(), q.rows(), q.cols(), bits, false, false, dst));
        w.write(m.module() + SCALE, q.scales());
        if (!q.scheme().symmetric()) {
            w.write(m.module() + ZERO, IntTensors.i32(BitPacking.pack(q.zeros(), q.rows(), q.groups(), bits, true, false)));
        }
        w.write(m.module() + SHAPE, IntTensors.i64(q.rows(), q.cols()));
        if (q.gIdx() != null) {
            w.write(m.module() + G_IDX, IntTensors.i32(q.gIdx()));
        }
    }

    @Override
    public QuantizedMatrix read(Checkpoint c, String module, QuantScheme s) {
        int[] shape = IntTensors.read(c, module + SHAPE);
        int rows = shape[0];
        int cols = shape[1];
        int bits = s.bits();
        byte[] codes = BitPacking.unpack(IntTensors.read(c, module + PACKED), rows, cols, bits, false, false);
        float[] scales = c.floats(module + SCALE);
        int groups = s.groups(cols);
        byte[] zeros = new byte[rows * groups];
        if (s.symmetric()) {
            java.util.Arrays.fill(zeros, (byte) (1 << (bits - 1)));
        } else {
            zeros = BitPacking.unpack(IntTensors.read(c, module + ZERO), rows, groups, bits, true, false);
        }
        int[] gIdx = c.has(module + G_IDX) ? IntTensors.read(c, module + G_IDX) : null;
        return new QuantizedMatrix(rows, cols, s, codes, scales, zeros, gIdx);
    }

    @Override
    public long[] weightShape(Checkpoint c, String module, QuantScheme s) {
        int[] shape = IntTensors.read(c, module + SHAPE);
        if (shape.length != 2) {
            throw new CheckpointException(c.dir() + ": '" + module + SHAPE + "' holds " + shape.length + " values, expected [out, in]");
        }
        return new long[] {shape[0], shape[1]};
    }

    @Override
    public List<String> modules(Checkpoint c) {
        return c.names().stream().filter(n -> n.endsWith(PACKED)).map(n -> n.substring(0, n.length() - PACKED.length())).sorted().toList();
    }

    @Override
    public DType scaleType(DType weightType) {
        return scale(weightType);
    }

    private static DType scale(DType weightType) {
        return weightType == DType.F32 || weightType == DType.F16 || weightType == DType.BF16 ? weightType : DType.BF16;
    }

    @Override
    public ObjectNode config(Map<String, QuantScheme> schemes, List<String> keep, boolean actOrder) {
        Map<QuantScheme, List<String>> byScheme = new LinkedHashMap<>();
        schemes.forEach((m, s) -> byScheme.computeIfAbsent(s, k -> new ArrayList<>()).add(m));
        QuantScheme major = byScheme.entrySet().stream().max(Comparator.comparingInt(e -> e.getValue().size())).map(Map.Entry::getKey).orElse(null);
        ObjectNode q = Json.PRETTY.createObjectNode();
        ObjectNode groups = q.putObject("config_groups");
        int i = 0;
        for (var e : byScheme.entrySet()) {
            ObjectNode g = groups.putObject("group_" + i++);
            ArrayNode targets = g.putArray("targets");
            if (e.getKey().equals(major)) {
                targets.add(LINEAR);
            } else {
                e.getValue().stream().sorted().forEach(targets::add);
            }
            weights(g.putObject("weights"), e.getKey(), actOrder);
            g.putNull("input_activations");
            g.putNull("output_activations");
            g.put("format", "pack-quantized");
        }
        q.put("format", "pack-quantized");
        q.putNull("global_compression_ratio");
        ArrayNode ignore = q.putArray("ignore");
        keep.stream().sorted().forEach(ignore::add);
        q.putNull("kv_cache_scheme");
        q.put("quant_method", "compressed-tensors");
        q.put("quantization_status", "compressed");
        return q;
    }

    private static void weights(ObjectNode w, QuantScheme s, boolean actOrder) {
        w.put("num_bits", s.bits());
        w.put("type", "int");
        w.put("symmetric", s.symmetric());
        if (s.groupSize() == 0) {
            w.putNull("group_size");
            w.put("strategy", "channel");
        } else {
            w.put("group_size", s.groupSize());
            w.put("strategy", "group");
        }
        w.putNull("block_structure");
        w.put("dynamic", false);
        if (actOrder) {
            w.put("actorder", "group");
        } else {
            w.putNull("actorder");
        }
        w.put("observer", "minmax");
        w.putObject("observer_kwargs");
    }

    @Override
    public QuantScheme schemeOf(ObjectNode qc, String module) {
        for (JsonNode ig : qc.path("ignore")) {
            if (nameMatch(ig.asText(), module)) {
                return null;
            }
        }
        QuantScheme byClass = null;
        for (JsonNode g : qc.path("config_groups")) {
            for (JsonNode t : g.path("targets")) {
                if (nameMatch(t.asText(), module)) {
                    return scheme(g.path("weights"), module);
                }
                if (t.asText().equals(LINEAR) && byClass == null) {
                    byClass = scheme(g.path("weights"), module);
                }
            }
        }
        return byClass;
    }

    /** compressed-tensors target matching: exact name, or {@code re:} regex with Python {@code re.match} semantics. */
    private static boolean nameMatch(String target, String module) {
        if (target.startsWith("re:")) {
            return Pattern.compile(target.substring(3)).matcher(module).lookingAt();
        }
        return target.equals(module);
    }

    private static QuantScheme scheme(JsonNode w, String module) {
        if (!w.path("type").asText("int").equals("int") || !w.has("num_bits")) {
            throw new CheckpointException("compressed-tensors scheme of '" + module + "' is not an integer weight scheme: " + w);
        }
        int gs = w.path("strategy").asText().equals("channel") || w.path("group_size").isNull() ? 0 : w.path("group_size").asInt();
        return new QuantScheme(w.path("num_bits").asInt(), gs, w.path("symmetric").asBoolean(true));
    }
}
