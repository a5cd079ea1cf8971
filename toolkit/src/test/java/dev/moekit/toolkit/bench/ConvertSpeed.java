package dev.moekit.toolkit.bench;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * dtype conversion speed, in GB/s of input, warm: bf16 to fp32, fp32 to bf16, bf16 to fp16 (direct, vector lanes) and
 * fp32 to fp16, on one thread (confined segments) and on all cores (shared segments: {@link Floats#convert} splits
 * them over the common pool).
 * {@code java ... ConvertSpeed [millionElements=64] [reps=10]}
 */
public final class ConvertSpeed {
    private ConvertSpeed() {}

    public static void main(String[] args) {
        long n = (args.length > 0 ? Long.parseLong(args[0]) : 64) * 1_000_000L;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        for (boolean shared : new boolean[] {false, true}) { // confined segments convert on the caller alone
            String threads = shared ? "all cores (" + Runtime.getRuntime().availableProcessors() + ")" : "one thread";
            try (Arena a = shared ? Arena.ofShared() : Arena.ofConfined()) {
                MemorySegment bf = a.allocate(2 * n, 64);
                MemorySegment f32 = a.allocate(4 * n, 64);
                for (long i = 0; i < n; i++) {
                    bf.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 2 * i, Floats.floatToBf16((float) Math.sin(i)));
                }
                report("bf16->fp32", threads, reps, 2 * n, () -> Floats.convert(bf, DType.BF16, f32, DType.F32, n));
                report("fp32->bf16", threads, reps, 4 * n, () -> Floats.convert(f32, DType.F32, bf, DType.BF16, n));
                report("bf16->fp16", threads, reps, 2 * n, () -> Floats.convert(bf, DType.BF16, f32.asSlice(0, 2 * n), DType.F16, n));
                report("fp32->fp16", threads, reps, 4 * n, () -> Floats.convert(f32, DType.F32, bf, DType.F16, n));
            }
        }
    }

    private static void report(String what, String threads, int reps, long inputBytes, Runnable r) {
        for (int i = 0; i < 3; i++) {
            r.run(); // warm-up: let C2 compile the vector loops
        }
        double best = Double.MAX_VALUE;
        double sum = 0;
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            r.run();
            double s = (System.nanoTime() - t) / 1e9;
            best = Math.min(best, s);
            sum += s;
        }
        System.out.printf("%-11s %6.2f GB/s of input (best), %6.2f GB/s (mean of %d), %s%n", what, inputBytes / 1e9 / best,
                inputBytes / 1e9 / (sum / reps), reps, threads);
    }
}
