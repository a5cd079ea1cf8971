package dev.moekit.prune.expert.score;

import dev.moekit.prune.stats.MoeBlockSamples;
import dev.moekit.toolkit.method.Doc;
import java.util.ArrayList;
import java.util.List;

/**
 * NAEE expert pruning (Lu et al., ACL 2024, arXiv 2402.14800; code Lucky-Lance/Expert_Sparsity): over calibration
 * inputs X of the MoE block, try every kept set of size r, route with the dropped experts' logits at -inf (equal to
 * removing their router rows: softmax renormalises over the rest), and keep the set minimising ||Z - Z'||_F in fp64,
 * Z the original block's routed output. The reference sums per-batch Frobenius norms over batches of 8 sequences;
 * here the norm is taken over all calibration tokens at once (the same argmin for a single batch).
 *
 * <p>Cost is C(E, r) block evaluations per layer, so layers with more than {@code maxCombinations} candidate sets are
 * refused with an error (C(8,6) = 28 for Mixtral; C(64,48) is about 5e14). Expert outputs are computed once per token
 * chunk and reused by every candidate. {@link #scores} gives each expert's single-drop loss (higher = more needed).
 */
public final class NaeePruner extends ScoringPruner<NaeePruner.Parameters> {
    private static final int CHUNK_VALUES = 1 << 22;

    /**
     * @param samples         MoE-block input rows kept per layer from calibration (default 2048; the {@code prune}
     *                        stage also accepts the older key {@code naee_samples})
     * @param maxCombinations refuse layers with more candidate kept sets (default 10000; older key
     *                        {@code naee_max_combinations})
     */
    public record Parameters(@Doc("MoE-block input rows kept per layer from calibration") Integer samples,
                             @Doc("refuse layers with more candidate kept sets C(E, kept) than this") Long maxCombinations) {
        public Parameters {
            samples = samples == null ? 2048 : samples;
            maxCombinations = maxCombinations == null ? 10_000 : maxCombinations;
            if (samples < 1 || maxCombinations < 1) {
                throw new IllegalArgumentException("samples and max_combinations must be >= 1, got " + samples + " and " + maxCombinations);
            }
        }
    }

    public NaeePruner() {
        super("naee", "NAEE: per layer, the kept set minimising the MoE block's reconstruction error (exhaustive search)",
                "https://arxiv.org/abs/2402.14800", Parameters.class, Calibration.REQUIRED);
    }

    @Override
    public int blockSamples(Parameters p) {
        return p.samples();
    }

    @Override
    public double[] scores(Parameters p, LayerContext ctx) {
        int e = ctx.experts();
        List<boolean[]> masks = new ArrayList<>();
        for (int j = 0; j < e; j++) {
            boolean[] m = new boolean[e];
            m[j] = true;
            masks.add(m);
        }
        return losses(ctx, masks);
    }

    @Override
    public int[] keep(Parameters p, LayerContext ctx, double[] scores, int count) {
        int e = ctx.experts();
        double combos = binomial(e, count);
        if (combos > p.maxCombinations()) {
            throw new IllegalArgumentException("layer " + ctx.layer() + ": NAEE would evaluate C(" + e + ", " + count + ") = "
                    + String.format("%.3g", combos) + " expert sets, more than the limit " + p.maxCombinations() + "; use STUN or REAP");
        }
        List<int[]> sets = new ArrayList<>();
        combinations(e, count, 0, new int[count], 0, sets);
        List<boolean[]> masks = new ArrayList<>();
        for (int[] kept : sets) {
            boolean[] drop = new boolean[e];
            java.util.Arrays.fill(drop, true);
            for (int k : kept) {
                drop[k] = false;
            }
            masks.add(drop);
        }
        double[] loss = losses(ctx, masks);
        int best = 0;
        for (int i = 1; i < loss.length; i++) {
            if (loss[i] < loss[best]) {
                best = i;
            }
        }
        return sets.get(best);
    }

    static double binomial(int n, int k) {
        double c = 1;
        for (int i = 1; i <= k; i++) {
            c = c * (n - k + i) / i;
        }
        return c;
    }

    private static void combinations(int n, int k, int start, int[] cur, int depth, List<int[]> out) {
        if (depth == k) {
            out.add(cur.clone());
            return;
        }
        for (int i = start; i <= n - (k - depth); i++) {
            cur[depth] = i;
            combinations(n, k, i + 1, cur, depth + 1, out);
        }
    }

    /** ||Z - Z'||_F over all calibration tokens for every drop mask. */
    static double[] losses(LayerContext ctx, List<boolean[]> dropMasks) {
        MoeBlockSamples s = ctx.stats().blockSamples(ctx.layer());
        int h = ctx.hidden();
        if (s.hidden() != h) {
            throw new IllegalArgumentException("layer " + ctx.layer() + ": block samples have hidden size " + s.hidden() + ", model " + h);
        }
        MoeBlock block = MoeBlock.load(ctx);
        double[] sq = new double[dropMasks.size()];
        int chunk = Math.max(1, CHUNK_VALUES / (ctx.experts() * h));
        for (int t0 = 0; t0 < s.tokens(); t0 += chunk) {
            int n = Math.min(chunk, s.tokens() - t0);
            for (int t = t0; t < t0 + n; t++) {
                double[] logits = block.logits(s.inputs(), t);
                double[][] f = block.allExperts(s.inputs(), t);
                double[] z = s.outputs() != null ? row(s.outputs(), t, h) : block.combine(logits, f, null);
                for (int m = 0; m < sq.length; m++) {
                    double[] z2 = block.combine(logits, f, dropMasks.get(m));
                    double acc = 0;
                    for (int i = 0; i < h; i++) {
                        double d = z[i] - z2[i];
                        acc += d * d;
                    }
                    sq[m] += acc;
                }
            }
        }
        for (int m = 0; m < sq.length; m++) {
            sq[m] = Math.sqrt(sq[m]);
        }
        return sq;
    }

    private static double[] row(float[] a, int t, int h) {
        double[] r = new double[h];
        for (int i = 0; i < h; i++) {
            r[i] = a[t * h + i];
        }
        return r;
    }
}
