package dev.moekit.quantize;

/** What the quantizer writes. */
public enum Format {
    /** Dequantized weights in the input dtype, every other tensor copied: loads anywhere, shows the quality only. */
    FAKE_QUANT,
    /** compressed-tensors {@code pack-quantized} (vLLM, transformers): see {@link CompressedTensorsLayout}. */
    COMPRESSED_TENSORS,
    /** GPTQ (AutoGPTQ/GPTQModel v1 layout, {@code dynamic} per-module overrides): see {@link GptqLayout}. */
    GPTQ;

    public boolean packed() {
        return this != FAKE_QUANT;
    }
}
