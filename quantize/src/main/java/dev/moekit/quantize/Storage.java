package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;

/**
 * Stored bits of one quantized module in a packed format: codes {@code rows*cols*bits}, scales
 * {@code rows*groups*scaleBits}, zero points {@code rows*groups*bits} (GPTQ always, compressed-tensors when
 * asymmetric), g_idx {@code 32*cols} (GPTQ always, compressed-tensors with activation order). Word padding is
 * ignored. Fake-quant outputs are accounted as compressed-tensors, the size they would pack to.
 */
final class Storage {
    private Storage() {
    }

    static long bits(LinearModule m, QuantScheme s, Format f, boolean actOrder, DType weightType) {
        long groups = (long) m.rows() * s.groups(m.cols());
        boolean gptq = f == Format.GPTQ;
        DType scale = gptq ? DType.F16 : new CompressedTensorsLayout().scaleType(weightType);
        long bits = m.params() * s.bits() + groups * scale.size() * 8L;
        if (gptq || !s.symmetric()) {
            bits += groups * s.bits();
        }
        if (gptq || actOrder && s.groupSize() > 0) {
            bits += 32L * m.cols();
        }
        return bits;
    }
}
