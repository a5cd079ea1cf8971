package dev.moekit.quantize.method;

import dev.moekit.quantize.Codebooks;
import dev.moekit.quantize.Grid;
import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
 * Transformers", arXiv 2210.17323; reference IST-DASLab/gptq {@code gptq.py} {@code fasterquant}, AutoGPTQ
 * {@code quantization/gptq.py} for {@code g_idx}).
 *
 * <p>For {@code W} [rows, cols] and {@code H = 2/N X^T X} [cols, cols], exactly as the reference:
 * <ol>
 *   <li>per-channel grids (group size 0) come from the whole original W;</li>
 *   <li>dead inputs ({@code H_jj = 0}) get {@code H_jj = 1} and {@code W[:, j] = 0};</li>
 *   <li>activation order ({@code desc_act}): columns permuted by {@code diag(H)} descending;</li>
 *   <li>damping {@code H += dampPercent * mean(diag H) * I} (default 0.01);</li>
 *   <li>{@code Hinv = cholesky(H^-1, upper)} ({@link Linalg#inverseCholeskyUpper});</li>
 *   <li>columns in blocks of {@code blockSize} (128): for column j, with {@code d = Hinv_jj}, quantize
 *       {@code q = Q(w_j)}, error {@code e = (w_j - q) / d}, update the rest of the block
 *       {@code W[:, j+1:i2] -= e Hinv[j, j+1:i2]}, loss {@code (w_j - q)^2 / d^2 / 2}; group grids are found when
 *       {@code j % groupSize == 0} from W as it stood at the start of the block (the reference reads {@code W}, not
 *       the in-block copy {@code W1}); with {@code clipSearch} a grid is {@link Grid#search}'s on those values,
 *       weighted by the (permuted) Hessian diagonal, instead of min-max;</li>
 *   <li>lazy batch update of later columns {@code W[:, i2:] -= Err1 Hinv[i1:i2, i2:]}.</li>
 * </ol>
 * The last step is applied lazily per block: before block {@code [i1, i2)} its columns receive
 * {@code -Err[:, :i1] Hinv[:i1, i1:i2]}, the same sum as the reference's eager updates, one gemm per block against
 * the errors kept in native memory. Group sizes must divide the block size, which keeps every group inside a block.
 * With activation order, codes return to the original column order and {@code g_idx[perm[k]] = k / groupSize}.
 */
public final class Gptq {
    private Gptq() {
    }

    /**
     * @param scheme      bits, group size, symmetry
     * @param dampPercent relative damping, fraction of the mean Hessian diagonal (reference default 0.01)
     * @param actOrder    quantize columns in order of decreasing {@code H_jj} ({@code desc_act})
     * @param blockSize   lazy-update block width (reference default 128)
     * @param clipSearch  grids by {@link Grid#search} weighted by {@code diag(H)} (GPTQModel's {@code mse}), not min-max
     */
    public record Params(QuantScheme scheme, double dampPercent, boolean actOrder, int blockSize, boolean clipSearch) {
        public Params(QuantScheme scheme, double dampPercent, boolean actOrder, int blockSize) {
            this(scheme, dampPercent, actOrder, blockSize, false);
        }

        public Params {
            if (!(dampPercent > 0 && dampPercent < 1)) {
                throw new IllegalArgumentException("GPTQ damping must be in (0, 1), got " + dampPercent);
            }
            if (blockSize <= 0 || scheme.groupSize() > 0 && !scheme.codebook() && blockSize % scheme.groupSize() != 0) {
                throw new IllegalArgumentException("GPTQ block size " + blockSize + " must be positive and a multiple of the group size " + scheme.groupSize());
            }
        }

        public static Params defaults(QuantScheme scheme) {
            return new Params(scheme, 0.01, false, 128);
        }

        public Params withActOrder(boolean a) {
            return new Params(scheme, dampPercent, a, blockSize, clipSearch);
        }
    }

    /**
     * @param quantized   codes, grids and g_idx
     * @param loss        the reference's summed loss {@code sum (w - q)^2 / d^2 / 2}
     * @param deadColumns inputs that never saw a non-zero activation
     */
    public record Result(QuantizedMatrix quantized, double loss, int deadColumns) {}

    /** Runs GPTQ on {@code weight} [rows, cols] with Hessian {@code h} [cols, cols]; scales rounded to {@code scaleType}. */
    public static Result quantize(float[] weight, int rows, int cols, float[] h, Params p, DType scaleType, Linalg la) {
        if (weight.length != (long) rows * cols || h.length != (long) cols * cols) {
            throw new IllegalArgumentException("GPTQ inputs do not match a " + rows + "x" + cols + " weight");
        }
        return new Run(weight, rows, cols, h.clone(), p, scaleType, la).run();
    }

    private static final class Run {
        private final int rows;
        private final int cols;
        private final Params p;
        private final QuantScheme s;
        private final DType scaleType;
        private final Linalg la;
        private final float[] w;
        private final float[] h;
        private final int groups;
        private final float[] scales;
        private final byte[] zeros;
        private final float[] mins;
        private final byte[] codes;
        private final int blockSize;
        private final float[] book;
        /** The current block's centroids in each vector's error metric ({@link #vectorTable}); codebook schemes only. */
        private float[] vecTab;
        private int[] perm;
        private float[] importance;
        private int dead;
        private double loss;

        Run(float[] weight, int rows, int cols, float[] h, Params p, DType scaleType, Linalg la) {
            this.rows = rows;
            this.cols = cols;
            this.p = p;
            this.s = p.scheme();
            this.scaleType = scaleType;
            this.la = la;
            this.w = weight.clone();
            this.h = h;
            this.groups = s.groups(cols);
            this.scales = new float[rows * groups];
            this.zeros = new byte[rows * groups];
            this.mins = s.hasMins() ? new float[rows * groups] : null;
            this.codes = new byte[rows * cols];
            // k-quant grids are found a whole super-block at a time, so a block must hold whole super-blocks
            // k-quant grids are found a whole super-block at a time, codebooks a whole tile: a block holds whole ones
            this.blockSize = s.quantizedScales() ? lcm(p.blockSize(), QuantScheme.SUPER_BLOCK)
                    : s.codebook() && s.groupSize() > 0 ? lcm(p.blockSize(), s.groupSize()) : p.blockSize();
            this.book = s.codebook() ? new float[groups * s.codebookSize() * s.vectorDim()] : null;
            if (!s.fits(cols)) {
                throw new IllegalArgumentException(s + " needs rows of whole " + QuantScheme.SUPER_BLOCK + "-weight super-blocks, got " + cols + " columns");
            }
            if (!s.plainGrid() && p.actOrder()) {
                throw new IllegalArgumentException("activation order does not apply to " + s + ": its groups are consecutive columns (no g_idx)");
            }
        }

        private static int lcm(int a, int b) {
            int x = a;
            int y = b;
            while (y != 0) {
                int t = x % y;
                x = y;
                y = t;
            }
            return a / x * b;
        }

        Result run() {
            if (s.groupSize() == 0 && !s.codebook()) {
                channelGrids();
            }
            markDead();
            if (p.actOrder()) {
                permute();
            }
            // codebooks are always fitted Hessian-weighted (GPTVQ), grids only with the clipping search
            importance = p.clipSearch() || s.codebook() ? diagonal() : null; // permuted, undamped
            if (s.codebook() && s.groupSize() == 0) {
                tile(0, cols, w, 0, cols); // one tile per row: from the whole original W, as per-channel grids are
            }
            damp();
            float[] hinv = la.inverseCholeskyUpper(h, cols);
            try (Linalg.RowMatrix errT = la.rowMatrix(cols, rows)) { // [cols, rows]: Err transposed
                for (int i1 = 0; i1 < cols; i1 += blockSize) {
                    block(i1, Math.min(i1 + blockSize, cols), hinv, errT);
                }
            }
            return new Result(finish(), loss, dead);
        }

        private void channelGrids() {
            float[] diag = p.clipSearch() ? diagonal() : null;
            for (int r = 0; r < rows; r++) {
                Grid.Params g = p.clipSearch() ? Grid.search(w, r * cols, cols, s, scaleType, diag, 0) : Grid.find(w, r * cols, cols, s, scaleType);
                scales[r] = g.scale();
                zeros[r] = (byte) g.zero();
            }
        }

        /** {@code diag(H)} in the current column order. */
        private float[] diagonal() {
            float[] d = new float[cols];
            for (int j = 0; j < cols; j++) {
                d[j] = h[j * cols + j];
            }
            return d;
        }

        private void markDead() {
            for (int j = 0; j < cols; j++) {
                if (h[j * cols + j] == 0f) {
                    h[j * cols + j] = 1f;
                    for (int r = 0; r < rows; r++) {
                        w[r * cols + j] = 0f;
                    }
                    dead++;
                }
            }
        }

        private void permute() {
            float[] diag = diagonal();
            perm = IntStream.range(0, cols).boxed()
                    .sorted(Comparator.comparingDouble((Integer j) -> diag[j]).reversed())
                    .mapToInt(Integer::intValue).toArray();
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) {
                    row[k] = w[r * cols + perm[k]];
                }
                System.arraycopy(row, 0, w, r * cols, cols);
            }
            float[] hp = new float[h.length];
            for (int a = 0; a < cols; a++) {
                int src = perm[a] * cols;
                for (int b = 0; b < cols; b++) {
                    hp[a * cols + b] = h[src + perm[b]];
                }
            }
            System.arraycopy(hp, 0, h, 0, h.length);
        }

        private void damp() {
            double mean = 0;
            for (int j = 0; j < cols; j++) {
                mean += h[j * cols + j];
            }
            float d = (float) (p.dampPercent() * mean / cols);
            for (int j = 0; j < cols; j++) {
                h[j * cols + j] += d;
            }
        }

        private void block(int i1, int i2, float[] hinv, Linalg.RowMatrix errT) {
            int b = i2 - i1;
            if (i1 > 0) {
                lazyUpdate(i1, i2, hinv, errT);
            }
            float[] w1 = new float[rows * b]; // [rows, b]
            for (int r = 0; r < rows; r++) {
                System.arraycopy(w, r * cols + i1, w1, r * b, b);
            }
            float[] w0 = w1.clone(); // block-start values: the reference's W[:, i1:i2] during this block
            float[] err1 = new float[rows * b];
            if (s.codebook() && s.groupSize() > 0) { // the tiles starting here, shared by all rows, from the block-start values
                for (int t = i1; t < i2; t += s.groupSize()) {
                    tile(t, Math.min(s.groupSize(), cols - t), w0, t - i1, b);
                }
            }
            vecTab = s.codebook() ? vectorTable(i1, b, hinv) : null;
            // rows are independent inside a block (own grids, own error feedback): process them in parallel
            double blockLoss = IntStream.range(0, rows).parallel().mapToDouble(r -> row(r, i1, b, w1, w0, err1, hinv)).sum();
            loss += blockLoss;
            float[] errTBlock = new float[b * rows];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < b; c++) {
                    errTBlock[c * rows + r] = err1[r * b + c];
                }
            }
            errT.setRows(i1, errTBlock, b);
        }

        /** {@code W[:, i1:i2] -= Err[:, :i1] Hinv[:i1, i1:i2]}, as {@code (Hinv[:i1, i1:i2])^T ErrT[:i1, :]}. */
        private void lazyUpdate(int i1, int i2, float[] hinv, Linalg.RowMatrix errT) {
            int b = i2 - i1;
            float[] hb = new float[i1 * b]; // Hinv[:i1, i1:i2], [i1, b], copied row by row
            for (int k = 0; k < i1; k++) {
                System.arraycopy(hinv, k * cols + i1, hb, k * b, b);
            }
            float[] delta = errT.transposedTimesPrefix(hb, i1, b); // [b, rows]
            for (int r = 0; r < rows; r++) {
                int base = r * cols + i1;
                for (int c = 0; c < b; c++) {
                    w[base + c] -= delta[c * rows + r];
                }
            }
        }

        /** Fits the codebook tile of columns {@code [col, col+len)}, held in {@code x} at {@code off} with row stride {@code stride}. */
        private void tile(int col, int len, float[] x, int off, int stride) {
            int g = col / s.groupWidth(cols);
            Codebooks.fit(x, rows, stride, off, len, s, scaleType, importance, col).copyInto(book, scales, g, groups);
        }

        /**
         * Row {@code r} of the block under a codebook scheme, a vector of {@code d} columns at a time (GPTVQ): each
         * vector takes the centroid whose error {@code delta} costs least in the inverse Hessian's metric, the errors
         * {@code e} solving {@code U^T e = delta} with {@code U} the vector's upper-triangular block of {@code Hinv}
         * (what column-by-column GPTQ would feed forward inside the vector), loss {@code |e|^2 / 2}; the rest of
         * the block then receives {@code -sum_k e_k Hinv[col+k, :]}.
         */
        private double vectorRow(int r, int i1, int b, float[] w1, float[] err1, float[] hinv) {
            int d = s.vectorDim();
            int k = s.codebookSize();
            float[] y = new float[d];
            float[] cost = new float[k];
            double rowLoss = 0;
            for (int i = 0; i < b; i += d) {
                int col = i1 + i;
                int at = r * b + i;
                float scale = scales[r * groups + col / s.groupWidth(cols)];
                for (int a = 0; a < d; a++) { // y = L^-1 w, L the vector's lower-triangular factor (see vectorTable)
                    double v = w1[at + a];
                    for (int p = 0; p < a; p++) {
                        v -= hinv[(col + p) * cols + col + a] * y[p];
                    }
                    y[a] = (float) (v / hinv[(col + a) * cols + col + a]);
                }
                int t0 = (i / d) * d * k; // this vector position's table, [d][k]
                java.util.Arrays.fill(cost, 0f);
                for (int a = 0; a < d; a++) { // |y - scale * z_q|^2 for every centroid q, a coordinate at a time
                    float ya = y[a];
                    int ta = t0 + a * k;
                    for (int q = 0; q < k; q++) {
                        float diff = ya - scale * vecTab[ta + q];
                        cost[q] += diff * diff;
                    }
                }
                int bestQ = 0;
                for (int q = 1; q < k; q++) {
                    if (cost[q] < cost[bestQ]) {
                        bestQ = q;
                    }
                }
                double e2 = 0;
                for (int a = 0; a < d; a++) {
                    float e = y[a] - scale * vecTab[t0 + a * k + bestQ];
                    codes[r * cols + col + a] = (byte) bestQ;
                    err1[at + a] = e;
                    e2 += (double) e * e;
                }
                rowLoss += e2 / 2;
                for (int a = 0; a < d; a++) {
                    axpy(w1, at + d, hinv, (col + a) * cols + col + d, b - i - d, -err1[at + a]);
                }
            }
            return rowLoss;
        }

        /**
         * For every vector position of the block {@code [i1, i1+b)}, its tile's centroids mapped through the inverse
         * of the vector's lower-triangular factor {@code L = U^T} ({@code U} the vector's block of {@code Hinv}):
         * {@code z_q = L^-1 c_q}, laid out {@code [position][coordinate][q]}. A vector's errors are linear in the
         * centroid, {@code e = L^-1 (w - scale c_q) = L^-1 w - scale z_q}, so with the table, shared by all rows,
         * each row scores all centroids in {@code d} streaming passes instead of a triangular solve per centroid.
         */
        private float[] vectorTable(int i1, int b, float[] hinv) {
            int d = s.vectorDim();
            int k = s.codebookSize();
            int gw = s.groupWidth(cols);
            float[] tab = new float[b * k];
            IntStream.range(0, b / d).parallel().forEach(v -> {
                int col = i1 + v * d;
                int base = (col / gw) * k * d;
                double[] z = new double[d];
                for (int q = 0; q < k; q++) {
                    for (int a = 0; a < d; a++) {
                        double x = book[base + q * d + a];
                        for (int p = 0; p < a; p++) {
                            x -= hinv[(col + p) * cols + col + a] * z[p];
                        }
                        z[a] = x / hinv[(col + a) * cols + col + a];
                        tab[(v * d + a) * k + q] = (float) z[a];
                    }
                }
            });
            return tab;
        }

        /** Quantizes row {@code r} of the block {@code [i1, i1+b)} column by column; returns its loss. */
        private double row(int r, int i1, int b, float[] w1, float[] w0, float[] err1, float[] hinv) {
            if (s.codebook()) {
                return vectorRow(r, i1, b, w1, err1, hinv);
            }
            int gw = s.groupWidth(cols);
            int maxq = s.maxq();
            double rowLoss = 0;
            for (int i = 0; i < b; i++) {
                int col = i1 + i;
                int g = s.groupSize() > 0 ? col / gw : 0;
                if (s.quantizedScales()) {
                    if (col % QuantScheme.SUPER_BLOCK == 0) {
                        superBlock(r, i, col, w0, b);
                    }
                } else if (s.groupSize() > 0 && col % gw == 0) {
                    int len = Math.min(gw, b - i);
                    Grid.Params gp = importance != null ? Grid.search(w0, r * b + i, len, s, scaleType, importance, col)
                            : Grid.find(w0, r * b + i, len, s, scaleType);
                    scales[r * groups + g] = gp.scale();
                    zeros[r * groups + g] = (byte) gp.zero();
                }
                float scale = scales[r * groups + g];
                int zero = zeros[r * groups + g] & 0xff;
                int hrow = col * cols;
                float d = hinv[hrow + col];
                int at = r * b + i;
                float x = w1[at];
                int q;
                float diff;
                if (mins != null) {
                    float min = mins[r * groups + g];
                    q = KGrid.codeMin(x, scale, min, maxq);
                    diff = x - QuantizedMatrix.dequantMin(scale, q, min);
                } else {
                    q = Grid.code(x, scale, zero, maxq);
                    diff = x - QuantizedMatrix.dequant(scale, q, zero);
                }
                codes[r * cols + col] = (byte) q;
                float e = diff / d;
                err1[at] = e;
                rowLoss += (double) diff * diff / ((double) d * d) / 2;
                axpy(w1, at + 1, hinv, hrow + col + 1, b - i - 1, -e);
            }
            return rowLoss;
        }

        /**
         * The k-quant grids of row {@code r}'s super-block starting at column {@code col} (block offset {@code i}), from
         * the block-start values {@code w0} as the other group grids are.
         */
        private void superBlock(int r, int i, int col, float[] w0, int b) {
            KGrid.Block kb = KGrid.find(w0, r * b + i, s, importance, col, importance != null);
            int per = QuantScheme.SUPER_BLOCK / s.groupSize();
            int g0 = col / s.groupSize();
            for (int g = 0; g < per; g++) {
                scales[r * groups + g0 + g] = kb.scales()[g];
                zeros[r * groups + g0 + g] = (byte) kb.zeros()[g];
                if (mins != null) {
                    mins[r * groups + g0 + g] = kb.mins()[g];
                }
            }
        }

        private static void axpy(float[] y, int yo, float[] x, int xo, int n, float a) {
            for (int k = 0; k < n; k++) {
                y[yo + k] += a * x[xo + k];
            }
        }

        private QuantizedMatrix finish() {
            if (perm == null) {
                return new QuantizedMatrix(rows, cols, s, codes, scales, zeros, null, mins, book);
            }
            byte[] natural = new byte[codes.length];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) {
                    natural[r * cols + perm[k]] = codes[r * cols + k];
                }
            }
            if (s.groupSize() == 0) {
                return new QuantizedMatrix(rows, cols, s, natural, scales, zeros, null); // one group: order is moot
            }
            int[] gIdx = new int[cols];
            for (int k = 0; k < cols; k++) {
                gIdx[perm[k]] = k / s.groupSize();
            }
            return new QuantizedMatrix(rows, cols, s, natural, scales, zeros, gIdx);
        }
    }

}
