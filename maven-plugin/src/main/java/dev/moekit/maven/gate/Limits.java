package dev.moekit.maven.gate;

/**
 * The quality gates of {@code moekit:check}; a null limit is a rule not checked.
 *
 * @param maxPerplexityRatio   per domain, output perplexity / input perplexity at most this
 * @param maxMeanKl            mean KL divergence of the output from the input (all scored positions) at most this
 * @param maxP99Kl             99th percentile of the KL divergence at most this
 * @param minTop1              top-1 agreement with the input (all scored positions, 0..1) at least this
 * @param maxOutputBytes       the output's weight files at most this many bytes
 * @param minCompressionRatio  input weight bytes / output weight bytes at least this
 * @param minCalibrationTokens every expert got at least this many calibration tokens (stage coverage reports)
 * @param engineCompatible     routers unquantized and one bit width per fused expert block
 */
public record Limits(Double maxPerplexityRatio, Double maxMeanKl, Double maxP99Kl, Double minTop1, Long maxOutputBytes,
                     Double minCompressionRatio, Long minCalibrationTokens, boolean engineCompatible) {
    public Limits {
        positive("maxPerplexityRatio", maxPerplexityRatio);
        nonNegative("maxMeanKl", maxMeanKl);
        nonNegative("maxP99Kl", maxP99Kl);
        if (minTop1 != null && (!(minTop1 >= 0) || minTop1 > 1)) {
            throw new IllegalArgumentException("minTop1 is a fraction in 0..1 (0.9 = 90% agreement), got " + minTop1);
        }
        if (maxOutputBytes != null && maxOutputBytes <= 0) {
            throw new IllegalArgumentException("maxOutputBytes must be positive, got " + maxOutputBytes);
        }
        positive("minCompressionRatio", minCompressionRatio);
        if (minCalibrationTokens != null && minCalibrationTokens < 0) {
            throw new IllegalArgumentException("minCalibrationTokens must be >= 0, got " + minCalibrationTokens);
        }
    }

    /** Whether a rule needs the evaluation (perplexity, KL, top-1). */
    public boolean needsEvaluation() {
        return maxPerplexityRatio != null || maxMeanKl != null || maxP99Kl != null || minTop1 != null;
    }

    /** Whether any rule is set. */
    public boolean any() {
        return needsEvaluation() || maxOutputBytes != null || minCompressionRatio != null || minCalibrationTokens != null || engineCompatible;
    }

    private static void positive(String name, Double v) {
        if (v != null && !(v > 0 && Double.isFinite(v))) {
            throw new IllegalArgumentException(name + " must be a positive number, got " + v);
        }
    }

    private static void nonNegative(String name, Double v) {
        if (v != null && !(v >= 0 && Double.isFinite(v))) {
            throw new IllegalArgumentException(name + " must be a number >= 0, got " + v);
        }
    }
}
