package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Codebooks of {@link QuantScheme#codebook() codebook} schemes (GPTVQ, arXiv 2402.15319): for one tile (all rows, a
 * range of columns) a scale per row and {@code 2^(bits * d)} centroids of {@code d}-weight vectors, fitted by
 * weighted k-means.
 *
 * <p>Each row's scale is the root mean square of its tile values (1 for an all-zero row), rounded to the value dtype;
 * the points are the row's consecutive {@code d}-vectors divided by that scale. The k-means minimises the error the
 * weights will carry, {@code sum_rows scale^2 sum_vectors sum_k w_k (y_k - c_k)^2}, with {@code w_k} the importance of
 * the vector's k-th input column (the Hessian diagonal {@code E[x_j^2]}, 1 without calibration). It starts from
 * k-means++ seeding (weighted D^2 sampling, a fixed seed, so a fit is reproducible) and runs Lloyd's iterations until
 * at most one point in a thousand changes its centroid or {@link #ITERATIONS} have run (on at most
 * {@link #MAX_POINTS} of the tile's vectors); an emptied centroid moves to the point that costs most.
 * Centroids are rounded to the value dtype at the end, so codes chosen afterwards see the stored values.
 */
public final class Codebooks {
    private Codebooks() {
    }

    /** Lloyd iterations at most. */
    static final int ITERATIONS = 30;

    /**
     * Vectors a codebook is fitted on at most: a tile with more (a row-spanning tile of a large model: 14336 rows of
     * 2048 vectors) is fitted on this many spread evenly over it, 512 or more a centroid; every vector is coded.
     */
    static final int MAX_POINTS = 1 << 17;

    /**
     * One tile's fit.
     *
     * @param scales    [rows] the rows' scales
     * @param centroids [codebookSize, d] the centroids in scaled units
     */
    public record Tile(float[] scales, float[] centroids) {
        /** Stores this as tile {@code g} of a matrix's codebook {@code book} and row scales {@code rowScales} [rows, groups]. */
        public void copyInto(float[] book, float[] rowScales, int g, int groups) {
            System.arraycopy(centroids, 0, book, g * centroids.length, centroids.length);
            for (int r = 0; r < scales.length; r++) {
                rowScales[r * groups + g] = scales[r];
            }
        }
    }

    /**
     * Fits the tile of columns {@code [off, off+len)} of {@code x} (rows {@code rows}, row stride {@code stride}),
     * importance {@code importance[impFrom + j]} for tile column j (null: 1).
     */
    public static Tile fit(float[] x, int rows, int stride, int off, int len, QuantScheme s, DType valueType, float[] importance, int impFrom) {
        int d = s.vectorDim();
        int k = s.codebookSize();
        int per = len / d; // vectors per row
        long all = (long) rows * per;
        int n = (int) Math.min(all, MAX_POINTS);
        float[] scales = new float[rows];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < len; j++) {
                float v = x[r * stride + off + j];
                ss += (double) v * v;
            }
            scales[r] = ss > 0 ? Grid.storable((float) Math.sqrt(ss / len), valueType) : 1f;
        }
        float[] y = new float[n * d];
        float[] wt = new float[n * d]; // per-coordinate weights: importance * scale^2
        for (int p = 0; p < n; p++) {
            long v = all == n ? p : p * all / n; // evenly spread over the tile when it has more vectors than are fitted
            int r = (int) (v / per);
            int j0 = (int) (v % per) * d;
            float sc = scales[r];
            for (int a = 0; a < d; a++) {
                y[p * d + a] = x[r * stride + off + j0 + a] / sc;
                wt[p * d + a] = (importance == null ? 1f : importance[impFrom + j0 + a]) * sc * sc;
            }
        }
        float[] c = seed(y, wt, n, d, k);
        lloyd(y, wt, n, d, k, c);
        for (int i = 0; i < c.length; i++) {
            c[i] = round(c[i], valueType);
        }
        return new Tile(scales, c);
    }

    /** {@code v} in {@code type}, keeping zero and sign (a centroid may be zero or negative, unlike a scale). */
    public static float round(float v, DType type) {
        return v == 0f ? 0f : Math.signum(v) * Grid.storable(Math.abs(v), type);
    }

    /**
     * The centroid nearest the vector {@code x[at, at+d) / scale} in {@code sum_k w_k (y_k - c_k)^2}, weights
     * {@code importance[impAt + k]} (null: 1).
     */
    public static int nearest(float[] x, int at, float scale, float[] centroids, int d, int k, float[] importance, int impAt) {
        int best = 0;
        double bestCost = Double.POSITIVE_INFINITY;
        for (int q = 0; q < k; q++) {
            double cost = 0;
            for (int a = 0; a < d; a++) {
                double diff = x[at + a] - scale * centroids[q * d + a];
                cost += (importance == null ? 1.0 : importance[impAt + a]) * diff * diff;
            }
            if (cost < bestCost) {
                bestCost = cost;
                best = q;
            }
        }
        return best;
    }

    /** Weighted distance of point p to centroid q. */
    private static double dist(float[] y, float[] wt, int p, float[] c, int q, int d) {
        double e = 0;
        for (int a = 0; a < d; a++) {
            double diff = y[p * d + a] - c[q * d + a];
            e += wt[p * d + a] * diff * diff;
        }
        return e;
    }

    /** k-means++ seeding: the first centroid the heaviest point, then points drawn with probability ~ their distance. */
    private static float[] seed(float[] y, float[] wt, int n, int d, int k) {
        float[] c = new float[k * d];
        SplittableRandom rnd = new SplittableRandom(0x6b6d65616e73L ^ n);
        double[] near = new double[n];
        int first = 0;
        double heaviest = -1;
        for (int p = 0; p < n; p++) {
            double m = 0;
            for (int a = 0; a < d; a++) {
                m += wt[p * d + a];
            }
            if (m > heaviest) {
                heaviest = m;
                first = p;
            }
        }
        System.arraycopy(y, first * d, c, 0, d);
        for (int p = 0; p < n; p++) {
            near[p] = dist(y, wt, p, c, 0, d);
        }
        for (int q = 1; q < k; q++) {
            double total = 0;
            for (int p = 0; p < n; p++) {
                total += near[p];
            }
            int pick = 0;
            if (total > 0) {
                double u = rnd.nextDouble() * total;
                double acc = 0;
                for (pick = 0; pick < n - 1; pick++) {
                    acc += near[pick];
                    if (acc >= u) {
                        break;
                    }
                }
            } else {
                pick = rnd.nextInt(n); // every point already sits on a centroid
            }
            System.arraycopy(y, pick * d, c, q * d, d);
            for (int p = 0; p < n; p++) {
                near[p] = Math.min(near[p], dist(y, wt, p, c, q, d));
            }
        }
        return c;
    }

    private static void lloyd(float[] y, float[] wt, int n, int d, int k, float[] c) {
        int[] assign = new int[n];
        java.util.Arrays.fill(assign, -1);
        double[] cost = new double[n];
        for (int it = 0; it < ITERATIONS; it++) {
            int changed = IntStream.range(0, n).parallel().map(p -> {
                int best = 0;
                double bestCost = Double.POSITIVE_INFINITY;
                for (int q = 0; q < k; q++) {
                    double e = dist(y, wt, p, c, q, d);
                    if (e < bestCost) {
                        bestCost = e;
                        best = q;
                    }
                }
                cost[p] = bestCost;
                int was = assign[p];
                assign[p] = best;
                return was == best ? 0 : 1;
            }).sum();
            if (changed <= n / 1000) { // settled: fewer than one point in a thousand moved
                return;
            }
            double[] num = new double[k * d];
            double[] den = new double[k * d];
            int[] count = new int[k];
            for (int p = 0; p < n; p++) {
                int q = assign[p];
                count[q]++;
                for (int a = 0; a < d; a++) {
                    num[q * d + a] += (double) wt[p * d + a] * y[p * d + a];
                    den[q * d + a] += wt[p * d + a];
                }
            }
            for (int q = 0; q < k; q++) {
                if (count[q] == 0) { // move an emptied centroid onto the point that costs most
                    int worst = 0;
                    for (int p = 1; p < n; p++) {
                        if (cost[p] > cost[worst]) {
                            worst = p;
                        }
                    }
                    System.arraycopy(y, worst * d, c, q * d, d);
                    cost[worst] = 0;
                    continue;
                }
                for (int a = 0; a < d; a++) {
                    if (den[q * d + a] > 0) {
                        c[q * d + a] = (float) (num[q * d + a] / den[q * d + a]);
                    }
                }
            }
        }
    }

    /**
     * Round-to-nearest under a codebook scheme: every tile fitted ({@link #fit}) on the weight itself, every vector its
     * nearest centroid; {@code importance} [cols] or null.
     */
    public static QuantizedMatrix quantize(float[] w, int rows, int cols, QuantScheme s, DType valueType, float[] importance) {
        int d = s.vectorDim();
        int k = s.codebookSize();
        int gw = s.groupWidth(cols);
        int groups = s.groups(cols);
        byte[] codes = new byte[w.length];
        float[] scales = new float[rows * groups];
        float[] book = new float[groups * k * d];
        for (int g = 0; g < groups; g++) {
            int col0 = g * gw;
            int len = Math.min(gw, cols - col0);
            Tile t = fit(w, rows, cols, col0, len, s, valueType, importance, col0);
            t.copyInto(book, scales, g, groups);
            IntStream.range(0, rows).parallel().forEach(r -> {
                for (int j = col0; j < col0 + len; j += d) {
                    int q = nearest(w, r * cols + j, t.scales()[r], t.centroids(), d, k, importance, j);
                    for (int a = 0; a < d; a++) {
                        codes[r * cols + j + a] = (byte) q;
                    }
                }
            });
        }
        return new QuantizedMatrix(rows, cols, s, codes, scales, new byte[rows * groups], null, null, book);
    }
}
