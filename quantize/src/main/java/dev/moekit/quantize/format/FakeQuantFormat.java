package dev.moekit.quantize.format;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import java.util.List;
import java.util.Map;

/**
 * Format {@code fake-quant}: every quantized module's dequantized values in its input tensor's dtype, every other
 * tensor copied, {@code config.json} unchanged. Loads anywhere and shows the quality only; fused 3-D expert tensors
 * are written too (each expert slice quantized on its own). Holds no codes, so there is nothing to read back but the
 * values themselves. Stored bits are accounted as compressed-tensors, the size the output would pack to; schemes with quantized
 * group scales (k-quants) as GGUF's blocks of them ({@link QuantScheme#kBitsPerSuperBlock}), codebook schemes as
 * {@link QuantScheme#codebookBits} with scales and centroids in the weight dtype.
 */
public final class FakeQuantFormat implements PackedFormat {
    @Override
    public String name() {
        return "fake-quant";
    }

    @Override
    public List<String> aliases() {
        return List.of("fake");
    }

    @Override
    public String summary() {
        return "dequantized weights in the input dtype: loads anywhere, shows the quality only";
    }

    @Override
    public String reference() {
        return "";
    }

    @Override
    public boolean packed() {
        return false;
    }

    @Override
    public boolean fusedExperts() {
        return true;
    }

    /** Any width; quantized group scales too (their values are written, their size accounted as GGUF blocks). */
    @Override
    public void check(QuantScheme s) {
        checkWidth(s.bits());
    }

    @Override
    public DType scaleType(DType weightType) {
        return weightType;
    }

    @Override
    public List<TensorSpec> plan(TensorSpec source, LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        return List.of(source);
    }

    @Override
    public void write(CheckpointWriter w, LinearModule m, QuantizedMatrix q, DType weightType) {
        DType type = w.spec(m.tensor()).dtype(); // the input tensor's, as planned
        w.write(m.tensor(), dst -> q.encodeInto(dst, type)); // dequantized a row at a time, encoded in place
    }

    @Override
    public long storedBits(LinearModule m, QuantScheme s, boolean gIdx, DType weightType) {
        if (s.codebook()) { // codes, a row scale per tile and the tile's centroids, scales and centroids in the weight dtype
            return s.codebookBits(m.rows(), m.cols(), weightType.size() * 8);
        }
        if (s.quantizedScales()) { // as GGUF's k-quant blocks hold them: codes, sub-block scales and minimums, fp16 super scales
            return (long) m.rows() * (m.cols() / QuantScheme.SUPER_BLOCK) * s.kBitsPerSuperBlock();
        }
        return CompressedTensorsFormat.bits(m, s, gIdx, weightType);
    }

    @Override
    public ObjectNode config(Map<String, QuantScheme> schemes, List<String> keep, boolean actOrder) {
        return null;
    }

    @Override
    public boolean reads(ObjectNode quantizationConfig) {
        return false;
    }

    @Override
    public List<String> modules(Checkpoint c) {
        return List.of();
    }

    @Override
    public QuantScheme schemeOf(ObjectNode quantizationConfig, String module) {
        return null;
    }

    @Override
    public QuantizedMatrix read(Checkpoint c, String module, QuantScheme s) {
        throw new UnsupportedOperationException("fake-quant checkpoints hold dequantized values, not codes: read '" + module + ".weight' itself");
    }

    @Override
    public String toString() {
        return name();
    }
}
