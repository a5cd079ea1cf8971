package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Format {@code gptq}: the GPTQ checkpoint layout of AutoGPTQ ({@code nn_modules/qlinear/qlinear_cuda_old.py}, {@code QuantLinear.pack}),
 * {@code checkpoint_format: "gptq"} (v1), as GPTQModel, transformers and vLLM load it. Per module {@code <m>}:
 * <ul>
 *   <li>{@code <m>.qweight} I32 [in * bits / 32, out]: codes packed along the input dimension as a bit stream
 *       (for 3 bits, 32 values in 3 words);</li>
 *   <li>{@code <m>.qzeros} I32 [groups, out * bits / 32]: {@code zero - 1} (the v1 convention) packed the same way
 *       along the output dimension;</li>
 *   <li>{@code <m>.scales} F16 [groups, out];</li>
 *   <li>{@code <m>.g_idx} I32 [in]: group of each input column ({@code j / group_size} without activation order).</li>
 * </ul>
 * Dequantization is {@code scales[g] * (q - (qzero + 1))}. The v1 {@code zero - 1} cannot hold a zero point of 0, so
 * asymmetric grids whose zero point is 0 are refused (write compressed-tensors instead).
 *
 * <p>Config ({@code quantize_config.json} and {@code config.json}'s {@code quantization_config}): {@code bits},
 * {@code group_size} (-1 per channel), {@code desc_act}, {@code sym}, {@code quant_method: "gptq"},
 * {@code checkpoint_format: "gptq"}, and GPTQModel's {@code dynamic}: keys are regexes tried with Python
 * {@code re.match} on module names; {@code "-:"} keys leave a module unquantized, {@code "+:"} keys override
 * {@code bits}/{@code group_size} (vLLM {@code gptq_utils.get_dynamic_override}). Overrides are written per module as
 * anchored, escaped names. The same config is written as {@code quantize_config.json}.
 *
 * <p>Stored bits: codes {@code rows*cols*bits}, fp16 scales and zero points {@code rows*groups*(16+bits)}, g_idx
 * {@code 32*cols}, always.
 */
public final class GptqFormat extends DequantizingFormat {
    /** The file GPTQ loaders read beside {@code config.json}. */
    static final String CONFIG_FILE = "quantize_config.json";
    static final String QWEIGHT = ".qweight";
    static final String QZEROS = ".qzeros";
    static final String SCALES = ".scales";
    static final String G_IDX = ".g_idx";

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public String summary() {
        return "GPTQ v1 (AutoGPTQ/GPTQModel) qweight/qzeros/scales/g_idx, per-module dynamic overrides";
    }

    @Override
    public String reference() {
        return "https://github.com/ModelCloud/GPTQModel";
    }

    @Override
    public boolean reads(ObjectNode qc) {
        return qc.path("quant_method").asText().equals("gptq") && qc.path("checkpoint_format").asText("gptq").equals("gptq");
    }

    @Override
    public Map<String, JsonNode> files(ObjectNode quantizationConfig) {
        return Map.of(CONFIG_FILE, quantizationConfig);
    }

    /** AutoGPTQ's {@code QuantLinear} (and GPTQModel's, vLLM's gptq kernels) pack 2, 3, 4 and 8 bits only. */
    @Override
    public void checkWidth(int bits) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new IllegalArgumentException("the gptq format stores 2, 3, 4 or 8 bits (AutoGPTQ/GPTQModel layout), not " + bits
                    + "; write compressed-tensors (or fake-quant) for " + bits + "-bit weights");
        }
    }

    @Override
    public long storedBits(LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        long groups = (long) m.rows() * s.groups(m.cols());
        return m.params() * s.bits() + groups * DType.F16.size() * 8L + groups * s.bits() + 32L * m.cols();
    }

    @Override
    public List<TensorSpec> plan(TensorSpec source, LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        int groups = s.groups(m.cols());
        int b = s.bits();
        return List.of(
                new TensorSpec(m.module() + QWEIGHT, DType.I32, new long[] {BitPacking.streamWords(m.cols(), b, m.module() + " qweight"), m.rows()}),
                new TensorSpec(m.module() + QZEROS, DType.I32, new long[] {groups, BitPacking.streamWords(m.rows(), b, m.module() + " qzeros")}),
                new TensorSpec(m.module() + SCALES, DType.F16, new long[] {groups, m.rows()}),
                new TensorSpec(m.module() + G_IDX, DType.I32, new long[] {m.cols()}));
    }

    @Override
    public void write(CheckpointWriter w, LinearModule m, QuantizedMatrix q, DType weightType) {
        int b = q.scheme().bits();
        int rows = q.rows();
        int cols = q.cols();
        int groups = q.groups();
        // qweight[k][r] packs input columns of output row r: each row packed as a bit stream, the words transposed
        int words = BitPacking.streamWords(cols, b, m.module() + " qweight");
        byte[] zm1 = new byte[groups * rows]; // [groups, out], zero - 1
        float[] sc = new float[groups * rows];
        for (int i = 0; i < rows; i++) {
            for (int g = 0; g < groups; g++) {
                int z = q.zero(i, g);
                if (z == 0) {
                    throw new IllegalArgumentException(m.module() + ": GPTQ v1 stores zero-1 and cannot hold a zero point of 0 (asymmetric grid); export compressed-tensors instead");
                }
                zm1[g * rows + i] = (byte) (z - 1);
                sc[g * rows + i] = q.scale(i, g);
            }
        }
        int[] gIdx = new int[cols];
        for (int j = 0; j < cols; j++) {
            gIdx[j] = q.group(j);
        }
        if (BitPacking.packsRowsInto(b, true)) { // 2, 4, 8 bits: whole values per word, packed straight into the file buffer
            w.write(m.module() + QWEIGHT, dst -> BitPacking.packRowsInto(q.codes(), rows, cols, b, true, true, dst));
        } else { // 3 bits: values straddle words
            int[] perRow = BitPacking.pack(q.codes(), rows, cols, b, false, true); // [out, words]
            int[] qweight = new int[words * rows]; // [words, out]
            for (int i = 0; i < rows; i++) {
                for (int k = 0; k < words; k++) {
                    qweight[k * rows + i] = perRow[i * words + k];
                }
            }
            w.write(m.module() + QWEIGHT, IntTensors.i32(qweight));
        }
        w.write(m.module() + QZEROS, IntTensors.i32(BitPacking.pack(zm1, groups, rows, b, false, true)));
        w.write(m.module() + SCALES, sc);
        w.write(m.module() + G_IDX, IntTensors.i32(gIdx));
    }

    @Override
    public QuantizedMatrix read(Checkpoint c, String module, QuantScheme s) {
        long[] shape = c.info(module + QWEIGHT).shape();
        int rows = Math.toIntExact(shape[1]);
        int cols = Math.toIntExact(shape[0] * 32 / s.bits());
        int groups = Math.toIntExact(c.info(module + SCALES).shape()[0]);
        int[] qweight = IntTensors.read(c, module + QWEIGHT); // [words, out]
        int words = qweight.length / rows;
        int[] perRow = new int[rows * words];
        for (int k = 0; k < words; k++) {
            for (int i = 0; i < rows; i++) {
                perRow[i * words + k] = qweight[k * rows + i];
            }
        }
        byte[] codes = BitPacking.unpack(perRow, rows, cols, s.bits(), false, true);
        byte[] zm1 = BitPacking.unpack(IntTensors.read(c, module + QZEROS), groups, rows, s.bits(), false, true);
        float[] sc = c.floats(module + SCALES);
        byte[] zeros = new byte[rows * groups];
        float[] scales = new float[rows * groups];
        for (int g = 0; g < groups; g++) {
            for (int i = 0; i < rows; i++) {
                zeros[i * groups + g] = (byte) ((zm1[g * rows + i] & 0xff) + 1);
                scales[i * groups + g] = sc[g * rows + i];
            }
        }
        int[] gIdx = IntTensors.read(c, module + G_IDX);
        boolean natural = true;
        int gw = s.groupWidth(cols);
        for (int j = 0; j < cols && natural; j++) {
            natural = gIdx[j] == j / gw;
        }
        if (s.groups(cols) != groups) {
            throw new CheckpointException(c.dir() + ": '" + module + "' has " + groups + " scale groups, config implies " + s.groups(cols));
        }
        return new QuantizedMatrix(rows, cols, s, codes, scales, zeros, natural ? null : gIdx);
    }

    @Override
    public long[] weightShape(Checkpoint c, String module, QuantScheme s) {
        long[] q = c.info(module + QWEIGHT).shape();
        if (q.length != 2) {
            throw new CheckpointException(c.dir() + ": '" + module + QWEIGHT + "' has shape " + java.util.Arrays.toString(q) + ", expected [in * bits / 32, out]");
        }
        return new long[] {q[1], q[0] * 32 / s.bits()};
    }

    @Override
    public List<String> modules(Checkpoint c) {
        return c.names().stream().filter(n -> n.endsWith(QWEIGHT)).map(n -> n.substring(0, n.length() - QWEIGHT.length())).sorted().toList();
    }

    @Override
    public DType scaleType(DType weightType) {
        return DType.F16;
    }

    @Override
    public ObjectNode config(Map<String, QuantScheme> schemes, List<String> keep, boolean actOrder) {
        Map<QuantScheme, Long> counts = schemes.values().stream().collect(Collectors.groupingBy(Function.identity(), LinkedHashMap::new, Collectors.counting()));
        QuantScheme base = counts.entrySet().stream().max(Comparator.comparingLong(Map.Entry::getValue)).map(Map.Entry::getKey)
                .orElseThrow(() -> new IllegalArgumentException("GPTQ export needs at least one quantized module"));
        for (QuantScheme s : counts.keySet()) {
            if (s.symmetric() != base.symmetric()) {
                throw new IllegalArgumentException("GPTQ format has one 'sym' for the whole model; got both symmetric and asymmetric modules");
            }
        }
        ObjectNode q = Json.PRETTY.createObjectNode();
        q.put("bits", base.bits());
        q.put("group_size", groupSize(base));
        q.put("desc_act", actOrder);
        q.put("sym", base.symmetric());
        q.put("lm_head", false);
        q.put("true_sequential", true);
        q.put("static_groups", false);
        q.put("quant_method", "gptq");
        q.put("checkpoint_format", "gptq");
        ObjectNode dyn = q.putObject("dynamic");
        keep.stream().sorted().forEach(m -> dyn.putObject("-:" + anchored(m)));
        schemes.entrySet().stream().filter(e -> !e.getValue().equals(base)).sorted(Map.Entry.comparingByKey()).forEach(e -> {
            ObjectNode o = dyn.putObject("+:" + anchored(e.getKey()));
            o.put("bits", e.getValue().bits());
            o.put("group_size", groupSize(e.getValue()));
        });
        q.putObject("meta").putArray("quantizer").add("moekit:0.1.0");
        return q;
    }

    private static int groupSize(QuantScheme s) {
        return s.groupSize() == 0 ? -1 : s.groupSize();
    }

    /** The module name as a Python regex matching exactly it (metacharacters escaped, {@code $} anchored). */
    static String anchored(String module) {
        StringBuilder b = new StringBuilder();
        for (char ch : module.toCharArray()) {
            if ("\\.[]{}()*+?^$|".indexOf(ch) >= 0) {
                b.append('\\');
            }
            b.append(ch);
        }
        return b.append('$').toString();
    }

    @Override
    public QuantScheme schemeOf(ObjectNode qc, String module) {
        int bits = qc.path("bits").asInt();
        int gs = qc.path("group_size").asInt(-1);
        boolean sym = qc.path("sym").asBoolean(true);
        var it = qc.path("dynamic").properties().iterator();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            boolean negative = key.startsWith("-:");
            String regex = key.startsWith("-:") || key.startsWith("+:") ? key.substring(2) : key;
            if (Pattern.compile(regex).matcher(module).lookingAt()) {
                if (negative) {
                    return null;
                }
                bits = e.getValue().path("bits").asInt(bits);
                gs = e.getValue().path("group_size").asInt(gs);
                sym = e.getValue().path("sym").asBoolean(sym);
                break;
            }
        }
        return new QuantScheme(bits, gs <= 0 ? 0 : gs, sym);
    }
}
