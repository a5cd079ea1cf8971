package dev.moekit.prune.expert.stun;

import dev.moekit.prune.expert.ExpertReader;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Distances of cluster members to their (usage-weighted) centroid and their weight cosines, over the flattened
 * concatenation of all parts, from one streaming pass.
 *
 * <p>With G the Gram matrix G_ab = w_a . w_b (accumulated in fp64 chunk by chunk) and c = sum_b p_b w_b (weights p
 * summing to one; p_b = 1/n for the plain mean): ||w_a - c||^2 = G_aa - 2 sum_b p_b G_ab + sum_bc p_b p_c G_bc, and
 * cos(w_a, w_b) = G_ab / sqrt(G_aa G_bb). Each member's weights are read once.
 */
final class Centroids {
    private static final int CHUNK = 1 << 20;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Squared distances within this fraction of the largest squared norm count as equal. */
    private static final double TIE = 1e-9;

    private Centroids() {}

    /** The members' Gram matrix G_ab = w_a . w_b over all parts, in member order. */
    static double[][] gram(int[] members, ExpertReader r) {
        int n = members.length;
        double[][] g = new double[n][n];
        float[][] buf = new float[n][];
        for (int p = 0; p < r.parts(); p++) {
            long size = r.size(p);
            for (long from = 0; from < size; from += CHUNK) {
                int count = (int) Math.min(CHUNK, size - from);
                for (int a = 0; a < n; a++) {
                    if (buf[a] == null || buf[a].length < count) {
                        buf[a] = new float[count];
                    }
                    r.read(members[a], p, from, buf[a], count);
                }
                accumulate(g, buf, count);
            }
        }
        return g;
    }

    /** Squared L2 distance of every member to the members' mean. */
    static double[] squaredDistancesToMean(int[] members, ExpertReader r) {
        return squaredDistancesToMean(gram(members, r));
    }

    /** Squared L2 distance of every member to the plain mean, from the Gram matrix (the reference rule's arithmetic). */
    static double[] squaredDistancesToMean(double[][] g) {
        int n = g.length;
        double all = 0;
        double[] row = new double[n];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                row[a] += g[a][b];
            }
            all += row[a];
        }
        double[] d = new double[n];
        for (int a = 0; a < n; a++) {
            d[a] = Math.max(0, g[a][a] - 2 * row[a] / n + all / ((double) n * n));
        }
        return d;
    }

    /** Squared L2 distance of every member to sum_b p_b w_b; {@code p} sums to one. */
    static double[] squaredDistances(double[][] g, double[] p) {
        int n = g.length;
        double all = 0;
        double[] row = new double[n];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                row[a] += p[b] * g[a][b];
            }
            all += p[a] * row[a];
        }
        double[] d = new double[n];
        for (int a = 0; a < n; a++) {
            d[a] = Math.max(0, g[a][a] - 2 * row[a] + all);
        }
        return d;
    }

    /** Cosine of every member's weights with sum_b p_b w_b (with the representative's own when p is one-hot); NaN for zeros. */
    static double[] cosines(double[][] g, double[] p) {
        int n = g.length;
        double all = 0;
        double[] row = new double[n];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                row[a] += p[b] * g[a][b];
            }
            all += p[a] * row[a];
        }
        double[] c = new double[n];
        for (int a = 0; a < n; a++) {
            double den = Math.sqrt(g[a][a] * all);
            c[a] = den > 0 ? row[a] / den : Double.NaN;
        }
        return c;
    }

    /** Mean of cos(w_a, w_b) over the member pairs a < b (zero-weight members left out); NaN below two members. */
    static double meanPairCosine(double[][] g) {
        double s = 0;
        int pairs = 0;
        for (int a = 0; a < g.length; a++) {
            for (int b = a + 1; b < g.length; b++) {
                double den = Math.sqrt(g[a][a] * g[b][b]);
                if (den > 0) {
                    s += g[a][b] / den;
                    pairs++;
                }
            }
        }
        return pairs == 0 ? Double.NaN : s / pairs;
    }

    static double[] uniform(int n) {
        double[] p = new double[n];
        java.util.Arrays.fill(p, 1.0 / n);
        return p;
    }

    /** {@code usage} scaled to sum to one; uniform when it sums to zero or holds a negative or non-finite value. */
    static double[] weights(double[] usage) {
        double sum = 0;
        for (double u : usage) {
            if (!(u >= 0) || Double.isInfinite(u)) {
                return uniform(usage.length);
            }
            sum += u;
        }
        if (!(sum > 0) || Double.isInfinite(sum)) {
            return uniform(usage.length);
        }
        double[] p = new double[usage.length];
        for (int a = 0; a < p.length; a++) {
            p[a] = usage[a] / sum;
        }
        return p;
    }

    private static void accumulate(double[][] g, float[][] buf, int count) {
        int n = g.length;
        for (int a = 0; a < n; a++) {
            for (int b = a; b < n; b++) {
                double s = dot(buf[a], buf[b], count);
                g[a][b] += s;
                if (b != a) {
                    g[b][a] += s;
                }
            }
        }
    }

    private static double dot(float[] x, float[] y, int count) {
        // fp32 vector partial sums over runs of 1024, fp64 across runs: fast, and accurate enough for ranking
        double s = 0;
        for (int i = 0; i < count; i += 1024) {
            int end = Math.min(count, i + 1024);
            FloatVector acc = FloatVector.zero(F);
            int k = i;
            for (; k <= end - F.length(); k += F.length()) {
                acc = FloatVector.fromArray(F, x, k).fma(FloatVector.fromArray(F, y, k), acc);
            }
            float part = acc.reduceLanes(VectorOperators.ADD);
            for (; k < end; k++) {
                part += x[k] * y[k];
            }
            s += part;
        }
        return s;
    }

    /**
     * The reference rule: index (into the members) of the member nearest the plain mean, ties to the earlier member; two
     * members are equidistant from their mean, so the first is kept, as the reference's argmin does.
     */
    static int nearestToMean(double[][] g) {
        if (g.length <= 2) {
            return 0;
        }
        double[] d = squaredDistancesToMean(g);
        int best = 0;
        for (int a = 1; a < d.length; a++) {
            if (d[a] < d[best]) {
                best = a;
            }
        }
        return best;
    }

    /**
     * Index (into the members) of the member nearest the usage-weighted mean sum_b u_b w_b / sum_b u_b (the plain mean
     * when no member is used). Distances within {@link #TIE} of the largest squared norm are ties, broken by the larger
     * usage, then by each of {@code tieBreaks} in turn (larger wins; e.g. REAP scores), then by the larger weights
     * (G_aa); only members equal in all of these fall back to the earlier one.
     *
     * @param usage     per member, >= 0
     * @param tieBreaks per member scores, each may be null
     */
    static int nearestToWeightedMean(double[][] g, double[] usage, double[]... tieBreaks) {
        int n = g.length;
        double[] d = squaredDistances(g, weights(usage));
        double scale = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int a = 0; a < n; a++) {
            scale = Math.max(scale, g[a][a]);
            min = Math.min(min, d[a]);
        }
        double tol = TIE * scale;
        int best = -1;
        for (int a = 0; a < n; a++) {
            if (d[a] <= min + tol && (best < 0 || better(a, best, g, usage, tieBreaks))) {
                best = a;
            }
        }
        return best;
    }

    private static boolean better(int a, int b, double[][] g, double[] usage, double[][] tieBreaks) {
        if (usage[a] != usage[b]) {
            return usage[a] > usage[b];
        }
        for (double[] t : tieBreaks) {
            if (t != null && t[a] != t[b]) {
                return t[a] > t[b];
            }
        }
        return g[a][a] > g[b][b];
    }

    /** Element-wise mean of the members' part {@code part}. */
    static float[] mean(int[] members, int part, ExpertReader r) {
        float[] acc = r.readAll(members[0], part);
        double[] sum = new double[acc.length];
        for (int i = 0; i < acc.length; i++) {
            sum[i] = acc[i];
        }
        for (int a = 1; a < members.length; a++) {
            float[] w = r.readAll(members[a], part);
            for (int i = 0; i < w.length; i++) {
                sum[i] += w[i];
            }
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] = (float) (sum[i] / members.length);
        }
        return acc;
    }
}
