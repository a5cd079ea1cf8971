package dev.moekit.quantize.method;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.quantize.Grid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * {@link Gptq} with its work on a DJL device ({@code cpu} or {@code gpu:N}, one code path): the same steps, the same
 * {@link Gptq.Result} (codes, grids, {@code g_idx}, loss, dead columns), for a batch of {@code E} weights of one
 * shape with their own Hessians (the experts of a layer that share a role; {@code E = 1} for one matrix). Per call:
 * <ol>
 *   <li>the Hessian diagonals come to the host ({@code E x cols} floats): dead columns, the activation-order
 *       permutation (the host's stable sort, so both paths order ties alike) and the damping are decided there, and
 *       applied on the device ({@code H_jj = 1} and {@code W[:, j] = 0} by masks, rows and columns gathered by the
 *       permutation, {@code H += damp * I});</li>
 *   <li>{@code Hinv = cholesky(H^-1, upper)} by {@link DeviceLinalg#inverseCholeskyUpper} (DJL has no Cholesky nor
 *       triangular solve: built from matMul there);</li>
 *   <li>columns in blocks of {@code blockSize} on {@code W^T} [E, cols, rows] (a column is a contiguous row): first
 *       the lazy batch update of the block, {@code W1 -= Err[:, :i1] Hinv[:i1, i1:i2]}, one batched matMul; then the
 *       block's group grids, all from its block-start values as in the reference: min-max by a device reduction whose
 *       {@code [E, groups, rows]} minima and maxima come to the host for {@link Grid#fromRange} (scales rounded to
 *       their storage dtype there, bf16 included, which DJL cannot hold), or with {@code clipSearch} the block's
 *       values come to the host for {@link Grid#search}, weighted by the permuted Hessian diagonal, exactly as host
 *       GPTQ does; then per column 14 device ops (no host sync): {@code q = clamp(round(w/s) + z)}, {@code err =
 *       (w - s(q - z)) / Hinv_jj}, {@code W1 -= Hinv1[j, :] err} (rank-1 over the whole block: columns already done
 *       are not read again);</li>
 *   <li>codes (uint8), errors and the loss stay on the device until the end; codes return to the original column order
 *       there and come to the host once.</li>
 * </ol>
 * Host traffic per block is the grids: two {@code [E, groups, rows]} arrays down and two up (or the block's values
 * down with {@code clipSearch}). Results equal host GPTQ's up to fp32 rounding: the factor and the lazy update sum in
 * other orders, so a code on a rounding boundary may differ.
 */
public final class DeviceGptq {
    private DeviceGptq() {
    }

    /** {@link Gptq#quantize} on {@code device}: uploads {@code h} [cols, cols] and {@code weight} [rows, cols]. */
    public static Gptq.Result quantize(float[] weight, int rows, int cols, float[] h, Gptq.Params p, DType scaleType, Device device) {
        try (NDManager m = Engines.newManager(device)) {
            NDArray ha = DeviceLinalg.upload(m, h, 1, cols, cols);
            return quantize(List.of(weight), rows, cols, ha, p, scaleType).getFirst();
        }
    }

    /**
     * GPTQ of {@code E = weights.size()} matrices [rows, cols] with Hessians {@code h} [E, cols, cols] (fp32, on the
     * device to run on; not modified), on {@code h}'s device. Throws
     * {@link dev.moekit.toolkit.linalg.Linalg.NotPositiveDefiniteException} when any damped Hessian is not positive
     * definite (the caller retries those one by one).
     */
    public static List<Gptq.Result> quantize(List<float[]> weights, int rows, int cols, NDArray h, Gptq.Params p, DType scaleType) {
        long[] hs = h.getShape().getShape();
        if (hs.length != 3 || hs[0] != weights.size() || hs[1] != cols || hs[2] != cols) {
            throw new IllegalArgumentException("GPTQ Hessians have shape " + h.getShape() + ", expected [" + weights.size() + ", " + cols + ", " + cols + "]");
        }
        for (float[] w : weights) {
            if (w.length != (long) rows * cols) {
                throw new IllegalArgumentException("GPTQ inputs do not match a " + rows + "x" + cols + " weight");
            }
        }
        Engines.inferenceMode();
        try (NDManager m = h.getManager().newSubManager()) {
            return new Run(weights, rows, cols, p, scaleType, m).run(h);
        }
    }

    private static final class Run {
        private final List<float[]> weights;
        private final int e;
        private final int rows;
        private final int cols;
        private final Gptq.Params p;
        private final QuantScheme s;
        private final DType scaleType;
        private final NDManager m;
        private final int groups;
        private final float[][] scales;
        private final byte[][] zeros;
        private final int[] dead;
        private int[][] perm;
        private float[][] importance;

        Run(List<float[]> weights, int rows, int cols, Gptq.Params p, DType scaleType, NDManager m) {
            this.weights = weights;
            this.e = weights.size();
            this.rows = rows;
            this.cols = cols;
            this.p = p;
            this.s = p.scheme();
            this.scaleType = scaleType;
            this.m = m;
            this.groups = s.groups(cols);
            this.scales = new float[e][rows * groups];
            this.zeros = new byte[e][rows * groups];
            this.dead = new int[e];
        }

        List<Gptq.Result> run(NDArray hIn) {
            NDArray h = hIn.duplicate();
            h.attach(m);
            float[][] diag = split(h.diagonal(0, 1, 2).toFloatArray(), cols);
            if (s.groupSize() == 0) {
                channelGrids(diag);
            }
            NDArray wt = transposedWeights(); // [E, cols, rows]
            h = markDead(diag, h, wt);
            if (p.actOrder()) {
                NDArray[] hw = permute(diag, h, wt);
                h = hw[0];
                wt = hw[1];
            }
            importance = p.clipSearch() ? diag : null; // permuted, undamped (damp() reads it only)
            damp(diag, h);
            NDArray u = DeviceLinalg.inverseCholeskyUpper(h, DeviceLinalg.BLOCK); // [E, cols, cols]
            h.close();
            NDArray d = u.diagonal(0, 1, 2); // [E, cols]: Hinv_jj
            NDArray errT = m.zeros(new Shape(e, cols, rows), DataType.FLOAT32);
            NDArray loss = m.zeros(new Shape(e), DataType.FLOAT64);
            NDArray[] channel = s.groupSize() == 0 // [E, rows]
                    ? new NDArray[] {upload(gridRows(scales, 0, 1)).reshape(e, rows), upload(zeroRows(0, 1)).reshape(e, rows)} : null;
            List<NDArray> codes = new ArrayList<>();
            for (int i1 = 0; i1 < cols; i1 += p.blockSize()) {
                codes.add(block(i1, Math.min(i1 + p.blockSize(), cols), wt, u, d, errT, loss, channel));
            }
            double[] losses = loss.toType(DataType.FLOAT64, false).toDoubleArray();
            byte[][] q = finishCodes(codes);
            List<Gptq.Result> out = new ArrayList<>();
            for (int x = 0; x < e; x++) {
                out.add(new Gptq.Result(new QuantizedMatrix(rows, cols, s, q[x], scales[x], zeros[x], gIdx(x)), losses[x] / 2, dead[x]));
            }
            return out;
        }

        private static float[][] split(float[] v, int n) {
            float[][] out = new float[v.length / n][];
            for (int x = 0; x < out.length; x++) {
                out[x] = java.util.Arrays.copyOfRange(v, x * n, (x + 1) * n);
            }
            return out;
        }

        /** Per-channel grids from the whole original weight, on the host (as {@link Gptq}; raw diagonal for the search). */
        private void channelGrids(float[][] diag) {
            for (int x = 0; x < e; x++) {
                float[] w = weights.get(x);
                float[] dg = diag[x];
                int ex = x;
                IntStream.range(0, rows).parallel().forEach(r -> {
                    Grid.Params g = p.clipSearch() ? Grid.search(w, r * cols, cols, s, scaleType, dg, 0) : Grid.find(w, r * cols, cols, s, scaleType);
                    scales[ex][r] = g.scale();
                    zeros[ex][r] = (byte) g.zero();
                });
            }
        }

        /** {@code W^T} [E, cols, rows], contiguous (a column of W is a row here). */
        private NDArray transposedWeights() {
            float[] all = new float[e * rows * cols];
            for (int x = 0; x < e; x++) {
                System.arraycopy(weights.get(x), 0, all, x * rows * cols, rows * cols);
            }
            try (NDArray w = DeviceLinalg.upload(m, all, e, rows, cols); NDArray t = w.transpose(0, 2, 1); NDArray flat = t.reshape(-1)) {
                return flat.reshape(e, cols, rows); // reshape(-1) of the transposed view copies it contiguous
            }
        }

        /** Dead inputs ({@code H_jj = 0}): {@code H_jj = 1}, {@code W[:, j] = 0}; {@code diag} updated. */
        private NDArray markDead(float[][] diag, NDArray h, NDArray wt) {
            float[] mask = new float[e * cols];
            for (int x = 0; x < e; x++) {
                for (int j = 0; j < cols; j++) {
                    if (diag[x][j] == 0f) {
                        diag[x][j] = 1f;
                        mask[x * cols + j] = 1f;
                        dead[x]++;
                    }
                }
            }
            if (IntStream.of(dead).sum() == 0) {
                return h;
            }
            try (NDArray mk = DeviceLinalg.upload(m, mask, e, 1, cols); NDArray eye = m.eye(cols); NDArray add = eye.mul(mk);
                 NDArray keep = mk.reshape(e, cols, 1).neg().add(1f)) {
                h.addi(add);
                wt.muli(keep);
            }
            return h;
        }

        /** Activation order: per matrix, columns by decreasing diagonal (stable, as the host); H and W^T gathered. */
        private NDArray[] permute(float[][] diag, NDArray h, NDArray wt) {
            perm = new int[e][];
            long[] flat = new long[e * cols]; // row index into [E * cols, ...]
            for (int x = 0; x < e; x++) {
                float[] dg = diag[x];
                perm[x] = IntStream.range(0, cols).boxed().sorted(Comparator.comparingDouble((Integer j) -> dg[j]).reversed())
                        .mapToInt(Integer::intValue).toArray();
                float[] pd = new float[cols];
                for (int k = 0; k < cols; k++) {
                    pd[k] = dg[perm[x][k]];
                    flat[x * cols + k] = (long) x * cols + perm[x][k];
                }
                diag[x] = pd;
            }
            try (NDArray idx = m.create(flat);
                 NDArray h2 = h.reshape(e * cols, cols); NDArray hr = h2.get(new NDIndex("{}", idx)); NDArray hr3 = hr.reshape(e, cols, cols);
                 NDArray ht = hr3.transpose(0, 2, 1); NDArray ht2 = ht.reshape(e * cols, cols); NDArray hp = ht2.get(new NDIndex("{}", idx));
                 NDArray w2 = wt.reshape(e * cols, rows); NDArray wp = w2.get(new NDIndex("{}", idx))) {
                // H symmetric: (H[perm, :])^T = H[:, perm], so gathering rows twice around a transpose is H[perm][:, perm]
                NDArray hOut = hp.reshape(e, cols, cols);
                NDArray wOut = wp.reshape(e, cols, rows);
                h.close();
                wt.close();
                return new NDArray[] {hOut, wOut};
            }
        }

        /** {@code H += dampPercent * mean(diag H) * I}, per matrix; {@code diag} keeps the undamped values. */
        private void damp(float[][] diag, NDArray h) {
            float[] d = new float[e];
            for (int x = 0; x < e; x++) {
                double mean = 0;
                for (int j = 0; j < cols; j++) {
                    mean += diag[x][j];
                }
                d[x] = (float) (p.dampPercent() * mean / cols);
            }
            try (NDArray dv = DeviceLinalg.upload(m, d, e, 1, 1); NDArray eye = m.eye(cols); NDArray add = eye.mul(dv)) {
                h.addi(add);
            }
        }

        /** One block {@code [i1, i2)}: lazy update, grids, the column loop; returns its codes [E, b, rows] uint8. */
        private NDArray block(int i1, int i2, NDArray wt, NDArray u, NDArray d, NDArray errT, NDArray loss, NDArray[] channel) {
            int b = i2 - i1;
            int maxq = s.maxq();
            try (NDScope scope = new NDScope()) {
                NDArray start = wt.get(new NDIndex(":, " + i1 + ":" + i2));
                NDArray w1 = i1 == 0 ? start.duplicate()
                        : start.sub(u.get(new NDIndex(":, 0:" + i1 + ", " + i1 + ":" + i2)).transpose(0, 2, 1).matMul(errT.get(new NDIndex(":, 0:" + i1))));
                NDArray[] grid = channel != null ? null : blockGrids(i1, b, w1); // [E, groups in block, rows] scales, zeros
                NDArray u1 = u.get(new NDIndex(":, " + i1 + ":" + i2 + ", " + i1 + ":" + i2)).reshape(e, b, b, 1); // u1[:, i] is [E, b, 1]
                NDArray d1 = d.get(new NDIndex(":, " + i1 + ":" + i2)).transpose().reshape(b, e, 1); // d1[i] is [E, 1]
                NDArray[] qs = new NDArray[b];
                NDArray[] es = new NDArray[b];
                NDArray sc = channel == null ? null : channel[0];
                NDArray zc = channel == null ? null : channel[1];
                int gw = s.groupWidth(cols);
                for (int i = 0; i < b; i++) {
                    if (channel == null && i % gw == 0) {
                        sc = grid[0].get(new NDIndex(":, " + (i / gw)));
                        zc = grid[1].get(new NDIndex(":, " + (i / gw)));
                    }
                    try (NDScope col = new NDScope()) {
                        NDArray x = w1.get(new NDIndex(":, " + i)); // [E, rows]
                        NDArray q = x.div(sc).round().add(zc).clip(0, maxq);
                        NDArray err = x.sub(q.sub(zc).mul(sc)).div(d1.get(i));
                        if (i + 1 < b) {
                            w1.subi(u1.get(new NDIndex(":, " + i)).mul(err.reshape(e, 1, rows)));
                        }
                        NDScope.unregister(q, err);
                        qs[i] = q;
                        es[i] = err;
                    }
                }
                NDArray q1 = NDArrays.stack(new NDList(qs), 1); // [E, b, rows]
                NDArray e1 = NDArrays.stack(new NDList(es), 1);
                for (int i = 0; i < b; i++) {
                    qs[i].close();
                    es[i].close();
                }
                errT.set(new NDIndex(":, " + i1 + ":" + i2), e1);
                loss.addi(e1.toType(DataType.FLOAT64, false).square().sum(new int[] {1, 2}));
                NDArray codes = q1.toType(DataType.UINT8, false);
                NDScope.unregister(codes);
                return codes;
            }
        }

        /**
         * The grids of the groups starting in the block, from its block-start values {@code w1} [E, b, rows], into
         * {@link #scales}/{@link #zeros}; returned as device arrays [E, groups in block, rows].
         */
        private NDArray[] blockGrids(int i1, int b, NDArray w1) {
            int gw = s.groupWidth(cols);
            int g0 = i1 / gw;
            int ng = (b + gw - 1) / gw;
            if (p.clipSearch()) {
                float[] v; // [E, rows, b]: each row's block values contiguous, as the host reads them
                try (NDArray t = w1.transpose(0, 2, 1); NDArray flat = t.reshape(-1)) {
                    v = flat.toFloatArray();
                }
                for (int x = 0; x < e; x++) {
                    int ex = x;
                    IntStream.range(0, rows).parallel().forEach(r -> {
                        for (int k = 0; k < ng; k++) {
                            int len = Math.min(gw, b - k * gw);
                            Grid.Params g = Grid.search(v, (ex * rows + r) * b + k * gw, len, s, scaleType, importance[ex], i1 + k * gw);
                            scales[ex][r * groups + g0 + k] = g.scale();
                            zeros[ex][r * groups + g0 + k] = (byte) g.zero();
                        }
                    });
                }
            } else {
                NDList mins = new NDList();
                NDList maxs = new NDList();
                for (int k = 0; k < ng; k++) {
                    NDArray part = w1.get(new NDIndex(":, " + k * gw + ":" + Math.min(b, (k + 1) * gw)));
                    mins.add(part.min(new int[] {1}));
                    maxs.add(part.max(new int[] {1}));
                }
                float[] lo = NDArrays.stack(mins, 1).toFloatArray(); // [E, ng, rows]
                float[] hi = NDArrays.stack(maxs, 1).toFloatArray();
                for (int x = 0; x < e; x++) {
                    int ex = x;
                    IntStream.range(0, rows).parallel().forEach(r -> {
                        for (int k = 0; k < ng; k++) {
                            int at = (ex * ng + k) * rows + r;
                            Grid.Params g = Grid.fromRange(Math.min(0f, lo[at]), Math.max(0f, hi[at]), s, scaleType); // Grid.find's range includes 0
                            scales[ex][r * groups + g0 + k] = g.scale();
                            zeros[ex][r * groups + g0 + k] = (byte) g.zero();
                        }
                    });
                }
            }
            return new NDArray[] {upload(gridRows(scales, g0, ng)), upload(zeroRows(g0, ng))};
        }

        /** Groups {@code [g0, g0+ng)} of {@code grid} as [E, ng, rows]. */
        private float[] gridRows(float[][] grid, int g0, int ng) {
            float[] out = new float[e * ng * rows];
            for (int x = 0; x < e; x++) {
                for (int k = 0; k < ng; k++) {
                    for (int r = 0; r < rows; r++) {
                        out[(x * ng + k) * rows + r] = grid[x][r * groups + g0 + k];
                    }
                }
            }
            return out;
        }

        private float[] zeroRows(int g0, int ng) {
            float[] out = new float[e * ng * rows];
            for (int x = 0; x < e; x++) {
                for (int k = 0; k < ng; k++) {
                    for (int r = 0; r < rows; r++) {
                        out[(x * ng + k) * rows + r] = zeros[x][r * groups + g0 + k] & 0xff;
                    }
                }
            }
            return out;
        }

        private NDArray upload(float[] v) {
            return DeviceLinalg.upload(m, v, e, v.length / (e * rows), rows);
        }

        /** The codes [E, cols, rows] (permuted order) back in the original column order, as [rows, cols] per matrix. */
        private byte[][] finishCodes(List<NDArray> blocks) {
            try (NDArray all = NDArrays.concat(new NDList(blocks), 1)) {
                NDArray natural = all;
                if (perm != null) {
                    long[] inv = new long[e * cols]; // natural column j is permuted column k with perm[k] = j
                    for (int x = 0; x < e; x++) {
                        for (int k = 0; k < cols; k++) {
                            inv[x * cols + perm[x][k]] = (long) x * cols + k;
                        }
                    }
                    try (NDArray idx = m.create(inv); NDArray flat = all.reshape(e * cols, rows); NDArray g = flat.get(new NDIndex("{}", idx))) {
                        natural = g.reshape(e, cols, rows);
                    }
                }
                byte[] b;
                try (NDArray t = natural.transpose(0, 2, 1); NDArray flat = t.reshape(-1)) {
                    b = flat.toByteArray();
                }
                if (natural != all) {
                    natural.close();
                }
                blocks.forEach(NDArray::close);
                byte[][] out = new byte[e][];
                for (int x = 0; x < e; x++) {
                    out[x] = java.util.Arrays.copyOfRange(b, x * rows * cols, (x + 1) * rows * cols);
                }
                return out;
            }
        }

        /** {@code g_idx[perm[k]] = k / groupSize} with activation order and groups, else null (as {@link Gptq}). */
        private int[] gIdx(int x) {
            if (perm == null || s.groupSize() == 0) {
                return null;
            }
            int[] g = new int[cols];
            for (int k = 0; k < cols; k++) {
                g[perm[x][k]] = k / s.groupSize();
            }
            return g;
        }
    }
}
