package dev.moekit.quantize;

/** Quantization algorithm. */
public enum Method {
    /** Round-to-nearest on the min-max grid; data-free. */
    RTN,
    /** GPTQ with calibration Hessians; falls back to RTN per module below the token threshold. */
    GPTQ
}
