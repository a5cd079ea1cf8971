package dev.moekit.toolkit.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class Nd4jLinalgTest {
    private final Linalg la = Linalg.nd4j();

    /** A random SPD matrix X^T X + n I, X [2n, n], in double for reference maths. */
    private static double[] spd(int n, long seed) {
        Random r = new Random(seed);
        double[] x = new double[2 * n * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < 2 * n; k++) {
                    s += x[k * n + i] * x[k * n + j];
                }
                a[i * n + j] = s + (i == j ? n : 0);
            }
        }
        return a;
    }

    private static float[] f(double[] d) {
        float[] r = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            r[i] = (float) d[i];
        }
        return r;
    }

    @Test
    void choleskyReconstructsTheMatrix() {
        int n = 37;
        double[] a = spd(n, 1);
        float[] l = la.cholesky(f(a), n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (j > i) {
                    assertEquals(0f, l[i * n + j], "upper triangle of L must be zero");
                }
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += (double) l[i * n + k] * l[j * n + k];
                }
                assertEquals(a[i * n + j], s, 1e-4 * Math.abs(a[i * n + i]));
            }
        }
    }

    @Test
    void inverseCholeskyUpperIsTheUpperFactorOfTheInverse() {
        int n = 41;
        double[] a = spd(n, 2);
        float[] u = la.inverseCholeskyUpper(f(a), n);
        // U^T U must be a^-1, i.e. a (U^T U) = I; U upper with positive diagonal
        double[] utu = new double[n * n];
        for (int i = 0; i < n; i++) {
            assertEquals(true, u[i * n + i] > 0, "positive diagonal");
            for (int j = 0; j < i; j++) {
                assertEquals(0f, u[i * n + j], "lower triangle of U must be zero");
            }
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += (double) u[k * n + i] * u[k * n + j];
                }
                utu[i * n + j] = s;
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += a[i * n + k] * utu[k * n + j];
                }
                assertEquals(i == j ? 1.0 : 0.0, s, 1e-3);
            }
        }
    }

    @Test
    void notPositiveDefiniteIsReported() {
        float[] a = {1, 2, 2, 1};
        assertThrows(Linalg.NotPositiveDefiniteException.class, () -> la.cholesky(a, 2));
    }

    @Test
    void matmulGramAndPrefixProductsAgreeWithLoops() {
        Random r = new Random(3);
        int m = 5, k = 7, n = 3;
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian();
        }
        float[] c = la.matmul(a, b, m, k, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += a[i * k + t] * b[t * n + j];
                }
                assertEquals(s, c[i * n + j], 1e-4);
            }
        }
        try (Linalg.Gram g = la.gram(k)) {
            g.add(a, 3);
            g.add(java.util.Arrays.copyOfRange(a, 3 * k, m * k), 2);
            float[] h = g.toArray(2f);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    double s = 0;
                    for (int t = 0; t < m; t++) {
                        s += a[t * k + i] * a[t * k + j];
                    }
                    assertEquals(2 * s, h[i * k + j], 1e-4);
                }
            }
        }
        try (Linalg.RowMatrix s = la.rowMatrix(k, n)) {
            s.setRows(0, java.util.Arrays.copyOfRange(b, 0, 4 * n), 4);
            s.setRows(4, java.util.Arrays.copyOfRange(b, 4 * n, k * n), 3);
            float[] a2 = java.util.Arrays.copyOf(a, 2 * 4); // [2, 4]
            float[] p = s.leftMultiplyPrefix(a2, 2, 4);
            float[] a2t = new float[4 * 2]; // [4, 2]
            for (int i = 0; i < 2; i++) {
                for (int t = 0; t < 4; t++) {
                    a2t[t * 2 + i] = a2[i * 4 + t];
                }
            }
            float[] pt = s.transposedTimesPrefix(a2t, 4, 2);
            for (int i = 0; i < p.length; i++) {
                assertEquals(p[i], pt[i], 1e-5, "transposed form agrees");
            }
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int t = 0; t < 4; t++) {
                        sum += a2[i * 4 + t] * b[t * n + j];
                    }
                    assertEquals(sum, p[i * n + j], 1e-4);
                }
            }
        }
    }
}
