package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.tensor.Floats;

/**
 * GPTQ's min-max quantization grid for one row and group (see {@link QuantScheme} for the formulas), with the scale
 * rounded to the dtype it will be stored in before any code is chosen, so stored and simulated values agree exactly.
 * Rounding is round-half-to-even, as {@code torch.round}. Shared by the weight quantizers ({@code quantize.method}).
 */
public final class Grid {
    private Grid() {
    }

    /** Scale and zero point of one group. */
    public record Params(float scale, int zero) {}

    /** Grid parameters of {@code x[from, from+len)}. */
    public static Params find(float[] x, int from, int len, QuantScheme s, DType scaleType) {
        float[] mm = Kernels.range(x, from, len);
        return fromRange(mm[0], mm[1], s, scaleType);
    }

    /** Shrink factors of the clipping search: 1, 0.98, ..., 0.5. */
    static final int SHRINK_STEPS = 26;
    private static final float SHRINK_STEP = 0.02f;

    /**
     * The grid of {@code x[from, from+len)} that minimises the weighted squared rounding error
     * {@code sum_j w_j (x_j - Q(x_j))^2}, {@code w_j = importance[wFrom + j]} (1 when {@code importance} is null).
     * Candidates are the min-max grid of the range shrunk by {@code 1, 0.98, ..., 0.5} (the clipping search of
     * GPTQ's {@code Quantizer(mse=True)}, here with squared error and 26 steps); for each, the codes are found, the scale
     * is refitted by weighted least squares for those codes with the zero point fixed
     * ({@code scale = sum w x (q - z) / sum w (q - z)^2}, as llama.cpp's {@code make_qx_quants} refits), rounded to
     * {@code scaleType}, and the codes found again. The plain min-max grid is a candidate, so the result's error is
     * never above it. The codes then follow from the returned grid as for any grid ({@link #code}).
     */
    public static Params search(float[] x, int from, int len, QuantScheme s, DType scaleType, float[] importance, int wFrom) {
        float[] mm = Kernels.range(x, from, len);
        int maxq = s.maxq();
        Params best = fromRange(mm[0], mm[1], s, scaleType);
        double bestErr = error(x, from, len, best.scale(), best.zero(), maxq, importance, wFrom);
        for (int i = 0; i < SHRINK_STEPS; i++) {
            float p = 1f - i * SHRINK_STEP;
            Params c = fromRange(p * mm[0], p * mm[1], s, scaleType);
            float refit = refit(x, from, len, c, maxq, importance, wFrom);
            if (refit > 0f && Float.isFinite(refit)) {
                c = new Params(storable(refit, scaleType), c.zero());
            }
            double e = error(x, from, len, c.scale(), c.zero(), maxq, importance, wFrom);
            if (e < bestErr) {
                bestErr = e;
                best = c;
            }
        }
        return best;
    }

    /** Weighted least-squares scale for the codes grid {@code c} gives, zero point fixed; 0 when undetermined. */
    private static float refit(float[] x, int from, int len, Params c, int maxq, float[] w, int wFrom) {
        double num = 0;
        double den = 0;
        for (int k = 0; k < len; k++) {
            float v = x[from + k];
            int q = code(v, c.scale(), c.zero(), maxq) - c.zero();
            double wk = w == null ? 1.0 : w[wFrom + k];
            num += wk * v * q;
            den += wk * (double) q * q;
        }
        return den > 0 ? (float) (num / den) : 0f;
    }

    /** {@code sum_j w_j (x_j - scale (code_j - zero))^2} over the range. */
    static double error(float[] x, int from, int len, float scale, int zero, int maxq, float[] w, int wFrom) {
        double e = 0;
        for (int k = 0; k < len; k++) {
            float v = x[from + k];
            float d = v - QuantizedMatrix.dequant(scale, code(v, scale, zero, maxq), zero);
            e += (w == null ? 1.0 : w[wFrom + k]) * d * d;
        }
        return e;
    }

    /** Grid parameters for the range {@code [xmin, xmax]} (already including 0; {@link #find} is this on the range of its values and 0). */
    public static Params fromRange(float xmin, float xmax, QuantScheme s, DType scaleType) {
        int maxq = s.maxq();
        if (s.symmetric()) {
            xmax = Math.max(Math.abs(xmin), xmax);
            if (xmin < 0) {
                xmin = -xmax;
            }
        }
        if (xmin == 0f && xmax == 0f) {
            xmin = -1f;
            xmax = 1f;
        }
        float scale = storable((xmax - xmin) / maxq, scaleType);
        int zero = s.symmetric() ? (maxq + 1) / 2 : clamp((int) Math.rint(-xmin / scale), maxq);
        return new Params(scale, zero);
    }

    /** The code of {@code x}: {@code clamp(round(x/scale) + zero, 0, maxq)}. */
    public static int code(float x, float scale, int zero, int maxq) {
        return clamp((int) Math.rint(x / scale) + zero, maxq);
    }

    private static int clamp(int q, int maxq) {
        return q < 0 ? 0 : Math.min(q, maxq);
    }

    /** {@code v} rounded to {@code type}, never zero (a zero scale would divide by zero). */
    public static float storable(float v, DType type) {
        float r = switch (type) {
            case F32 -> v;
            case BF16 -> Floats.bf16ToFloat(Floats.floatToBf16(v));
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            default -> throw new IllegalArgumentException("scales cannot be stored as " + type);
        };
        if (r > 0f) {
            return r;
        }
        return switch (type) {
            case F32 -> Float.MIN_VALUE;
            case BF16 -> Floats.bf16ToFloat((short) 1);
            case F16 -> Float.float16ToFloat((short) 1);
            default -> throw new IllegalArgumentException("scales cannot be stored as " + type);
        };
    }
}
