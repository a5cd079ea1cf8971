package dev.moekit.quantize;

/**
 * Grids of one super-block of a k-quant scheme ({@link QuantScheme#quantizedScales()}): the {@code 256 / groupSize}
 * groups of {@link QuantScheme#SUPER_BLOCK} consecutive weights of a row get their scales (and, asymmetric, their
 * minimums) as integers of one fp16 super-block scale each, the layout of GGUF's k-quants.
 *
 * <p>Three steps, each weighted by {@code importance} (per input column; null: 1), as llama.cpp's imatrix weights its
 * k-quant searches:
 * <ol>
 *   <li>every group's float grid: asymmetric groups try the range {@code [min(x, 0), max x]} and 20 stretched and
 *       shrunk versions of it ({@code (maxq + t) / (max - min)}, {@code t} in -1 ... 1), fit scale and minimum to each
 *       try's codes by weighted least squares (minimum kept at or above 0: values {@code scale * q - min} with
 *       {@code min = -offset}), and keep the least error, as {@code make_qkx2_quants} does; symmetric groups take
 *       {@link Grid#search}'s grid with the zero point at the middle code;</li>
 *   <li>the super-block scale {@code d = max scale / maxScaleCode} (fp16), each group's scale code
 *       {@code round(scale / d)} (at least 1) and the same for minimums; {@code d} is then retried at 0.94 ... 1.06
 *       of itself and the least weighted error kept;</li>
 *   <li>codes: {@code clamp(round((x + min) / scale), 0, maxq)} (asymmetric), {@code clamp(round(x / scale) + zero)}
 *       (symmetric).</li>
 * </ol>
 * Without {@code search}, step 1 is the plain min-max grid and step 2 keeps {@code d} as computed. All scales and
 * minimums returned are exact fp32 products of an fp16 value and a small integer, the values GGUF decoders compute.
 */
public final class KGrid {
    private KGrid() {
    }

    /**
     * The grids of one super-block: per group its scale, minimum (null for symmetric schemes) and zero point, plus the
     * stored parts (fp16 super-block scales and the integer codes of the group scales and minimums).
     */
    public record Block(float[] scales, float[] mins, int[] zeros, float d, float dmin, int[] scaleCodes, int[] minCodes) {}

    private static final int STRETCH_STEPS = 20;
    private static final float[] D_TRIES = {0.94f, 0.96f, 0.98f, 1.02f, 1.04f, 1.06f};

    /**
     * Grids of {@code x[from, from + 256)}; {@code importance[wFrom + j]} weighs value {@code j} (null: all 1).
     */
    public static Block find(float[] x, int from, QuantScheme s, float[] importance, int wFrom, boolean search) {
        int gw = s.groupSize();
        int n = QuantScheme.SUPER_BLOCK / gw;
        int maxq = s.maxq();
        float[] fs = new float[n];
        float[] fm = new float[n];
        for (int g = 0; g < n; g++) {
            int at = from + g * gw;
            if (s.hasMins()) {
                float[] sm = asymGroup(x, at, gw, maxq, importance, wFrom + g * gw, search);
                fs[g] = sm[0];
                fm[g] = sm[1];
            } else {
                QuantScheme flt = new QuantScheme(s.bits(), gw, true);
                Grid.Params p = search ? Grid.search(x, at, gw, flt, dev.moekit.toolkit.io.DType.F32, importance, wFrom + g * gw)
                        : Grid.find(x, at, gw, flt, dev.moekit.toolkit.io.DType.F32);
                fs[g] = p.scale();
            }
        }
        Block best = encode(s, fs, fm, 1f);
        if (search) {
            double bestErr = error(x, from, s, best, importance, wFrom);
            for (float t : D_TRIES) {
                Block c = encode(s, fs, fm, t);
                double e = error(x, from, s, c, importance, wFrom);
                if (e < bestErr) {
                    bestErr = e;
                    best = c;
                }
            }
        }
        return best;
    }

    /**
     * One super-block's float group scales {@code fs} (and minimums {@code fm}, ignored without them) stored as the
     * scheme stores them: integer codes of fp16 super-block scales, the scale one taken at {@code stretch} times
     * {@code max(fs) / maxScaleCode}.
     */
    public static Block encode(QuantScheme s, float[] fs, float[] fm, float stretch) {
        int maxSc = s.maxScaleCode();
        float d = Grid.storable(superScale(max(fs), maxSc) * stretch, dev.moekit.toolkit.io.DType.F16);
        float dmin = s.hasMins() ? superScale(max(fm), maxSc) : 0f;
        return block(s, fs, fm, d, dmin);
    }

    /** {@code v / maxCode} as a positive fp16 value (the smallest one when {@code v} is 0). */
    private static float superScale(float v, int maxCode) {
        return Grid.storable(v / maxCode, dev.moekit.toolkit.io.DType.F16);
    }

    private static float max(float[] v) {
        float m = 0f;
        for (float f : v) {
            m = Math.max(m, f);
        }
        return m;
    }

    /** The group grids that super-block scales {@code d}, {@code dmin} give the float grids {@code fs}, {@code fm}. */
    private static Block block(QuantScheme s, float[] fs, float[] fm, float d, float dmin) {
        int n = fs.length;
        int maxSc = s.maxScaleCode();
        float[] scales = new float[n];
        int[] sc = new int[n];
        int[] zeros = new int[n];
        float[] mins = s.hasMins() ? new float[n] : null;
        int[] mc = s.hasMins() ? new int[n] : null;
        for (int g = 0; g < n; g++) {
            sc[g] = Math.clamp(Math.round(fs[g] / d), 1, maxSc);
            scales[g] = d * sc[g];
            if (mins != null) {
                mc[g] = Math.clamp(Math.round(fm[g] / dmin), 0, maxSc);
                mins[g] = dmin * mc[g];
            } else {
                zeros[g] = (s.maxq() + 1) / 2;
            }
        }
        return new Block(scales, mins, zeros, d, dmin, sc, mc);
    }

    /** The code of {@code x} in group {@code g} of block {@code b}. */
    public static int code(float x, Block b, int g, int maxq) {
        return b.mins() != null ? codeMin(x, b.scales()[g], b.mins()[g], maxq) : Grid.code(x, b.scales()[g], b.zeros()[g], maxq);
    }

    /** The code of {@code x} on a grid with a minimum: {@code clamp(round((x + min) / scale), 0, maxq)}. */
    public static int codeMin(float x, float scale, float min, int maxq) {
        return Math.clamp((int) Math.rint((x + min) / scale), 0, maxq);
    }

    /** The value code {@code q} of group {@code g} stands for. */
    public static float value(Block b, int g, int q) {
        return b.mins() != null ? QuantizedMatrix.dequantMin(b.scales()[g], q, b.mins()[g]) : QuantizedMatrix.dequant(b.scales()[g], q, b.zeros()[g]);
    }

    private static double error(float[] x, int from, QuantScheme s, Block b, float[] w, int wFrom) {
        int gw = s.groupSize();
        int maxq = s.maxq();
        double e = 0;
        for (int j = 0; j < QuantScheme.SUPER_BLOCK; j++) {
            int g = j / gw;
            float v = x[from + j];
            float d = v - value(b, g, code(v, b, g, maxq));
            e += (w == null ? 1.0 : w[wFrom + j]) * d * d;
        }
        return e;
    }

    /** {scale, min} of one asymmetric group (values {@code scale * q - min}, {@code min >= 0}). */
    private static float[] asymGroup(float[] x, int at, int len, int maxq, float[] w, int wAt, boolean search) {
        float lo = 0f;
        float hi = -Float.MAX_VALUE;
        for (int k = 0; k < len; k++) {
            lo = Math.min(lo, x[at + k]);
            hi = Math.max(hi, x[at + k]);
        }
        if (hi <= lo) { // all values equal to lo <= 0: the minimum alone reproduces them
            return new float[] {0f, -lo};
        }
        float bestS = (hi - lo) / maxq;
        float bestM = -lo;
        if (!search) {
            return new float[] {bestS, bestM};
        }
        double bestErr = asymError(x, at, len, bestS, bestM, maxq, w, wAt);
        byte[] q = new byte[len];
        for (int step = 0; step <= STRETCH_STEPS; step++) {
            float t = -1f + 2f * step / STRETCH_STEPS;
            float iscale = (maxq + t) / (hi - lo);
            double sw = 0;
            double sq = 0;
            double sqq = 0;
            double sx = 0;
            double sqx = 0;
            for (int k = 0; k < len; k++) {
                int c = Math.clamp(Math.round(iscale * (x[at + k] - lo)), 0, maxq);
                q[k] = (byte) c;
                double wk = w == null ? 1.0 : w[wAt + k];
                sw += wk;
                sq += wk * c;
                sqq += wk * c * c;
                sx += wk * x[at + k];
                sqx += wk * c * x[at + k];
            }
            double det = sw * sqq - sq * sq;
            if (!(det > 0)) {
                continue;
            }
            double scale = (sw * sqx - sq * sx) / det;
            double offset = (sqq * sx - sq * sqx) / det; // x ~ scale * q + offset
            if (offset > 0) { // the minimum must not be negative: fit the scale alone through 0
                offset = 0;
                scale = sqq > 0 ? sqx / sqq : 0;
            }
            if (!(scale > 0) || !Double.isFinite(scale)) {
                continue;
            }
            float cs = (float) scale;
            float cm = (float) -offset;
            double e = asymError(x, at, len, cs, cm, maxq, w, wAt);
            if (e < bestErr) {
                bestErr = e;
                bestS = cs;
                bestM = cm;
            }
        }
        return new float[] {bestS, bestM};
    }

    private static double asymError(float[] x, int at, int len, float scale, float min, int maxq, float[] w, int wAt) {
        double e = 0;
        for (int k = 0; k < len; k++) {
            float v = x[at + k];
            float d = scale > 0 ? v - QuantizedMatrix.dequantMin(scale, codeMin(v, scale, min, maxq), min) : v + min;
            e += (w == null ? 1.0 : w[wAt + k]) * d * d;
        }
        return e;
    }
}
