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

    /** Grid parameters for the range {@code [xmin, xmax]} (already including 0). */
    static Params fromRange(float xmin, float xmax, QuantScheme s, DType scaleType) {
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
    static float storable(float v, DType type) {
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
