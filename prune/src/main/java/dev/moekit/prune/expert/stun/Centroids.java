package dev.moekit.prune.expert.stun;

import dev.moekit.prune.expert.ExpertReader;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Distances of cluster members to their centroid over the flattened concatenation of all parts, in one streaming pass.
 *
 * <p>With G the Gram matrix G_ab = w_a . w_b (accumulated in fp64 chunk by chunk) and c = (1/n) sum_b w_b:
 * ||w_a - c||^2 = G_aa - (2/n) sum_b G_ab + (1/n^2) sum_bc G_bc. Each member's weights are read once.
 */
final class Centroids {
    private static final int CHUNK = 1 << 20;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Centroids() {}

    /** Squared L2 distance of every member to the members' mean. */
    static double[] squaredDistancesToMean(int[] members, ExpertReader r) {
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

    /** Index (into {@code members}) of the member nearest the mean; ties go to the earlier member. */
    static int nearestToMean(int[] members, ExpertReader r) {
        if (members.length <= 2) {
            return 0; // two members are equidistant from their mean; the reference's argmin takes the first
        }
        double[] d = squaredDistancesToMean(members, r);
        int best = 0;
        for (int a = 1; a < d.length; a++) {
            if (d[a] < d[best]) {
                best = a;
            }
        }
        return best;
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
