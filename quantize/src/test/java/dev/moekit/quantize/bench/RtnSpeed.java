package dev.moekit.quantize.bench;

import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.DType;
import java.util.SplittableRandom;

/** In-memory RTN speed on one [rows, cols] matrix: quantize and dequantize, best of {@code reps}. */
public final class RtnSpeed {
    private RtnSpeed() {
    }

    public static void main(String[] args) {
        int rows = Integer.parseInt(args[0]);
        int cols = Integer.parseInt(args[1]);
        int reps = Integer.parseInt(args[2]);
        float[] w = new float[rows * cols];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextDouble() - 0.5);
        }
        QuantScheme s = new QuantScheme(4, 128, true);
        double bestQ = Double.MAX_VALUE;
        double bestD = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            QuantizedMatrix q = Rtn.quantize(w, rows, cols, s, DType.BF16);
            long t1 = System.nanoTime();
            q.dequantize();
            long t2 = System.nanoTime();
            bestQ = Math.min(bestQ, (t1 - t0) / 1e9);
            bestD = Math.min(bestD, (t2 - t1) / 1e9);
        }
        double gb = 2.0 * rows * cols / 1e9; // as bf16 input
        System.out.printf("RTN %dx%d: quantize %.3f s (%.2f GB/s of bf16), dequantize %.3f s (%.2f GB/s)%n", rows, cols, bestQ, gb / bestQ, bestD, gb / bestD);
    }
}
