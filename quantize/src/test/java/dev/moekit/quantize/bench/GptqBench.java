package dev.moekit.quantize.bench;

import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.method.Gptq;
import dev.moekit.quantize.method.CodebookRefit;
import dev.moekit.quantize.method.GridRefit;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.SplittableRandom;

/**
 * GPTQ time for one expert matrix on CPU: W [rows, cols] Gaussian, H from {@code tokens} synthetic correlated input
 * rows (streamed in batches of 512), 4-bit group 128 symmetric, block 128. Prints Hessian accumulation and GPTQ time.
 *
 * <p>{@code java ... GptqBench <rows> <cols> <tokens> [actOrder] [refit] [scheme]} e.g. {@code 14336 4096 2048} (w1/w3)
 * and {@code 4096 14336 2048} (w2); {@code refit} {@code true} also times {@link GridRefit} on the result (for a
 * codebook scheme such as {@code int2/channel/vq2}, {@link CodebookRefit}); {@code scheme} defaults to
 * {@code int4/g128/sym}.
 */
public final class GptqBench {
    private GptqBench() {
    }

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt(args[0]);
        int cols = Integer.parseInt(args[1]);
        int tokens = Integer.parseInt(args[2]);
        boolean act = args.length > 3 && Boolean.parseBoolean(args[3]);
        QuantScheme scheme = QuantScheme.parse("scheme", args.length > 5 ? args[5] : "int4/g128/sym");
        SplittableRandom r = new SplittableRandom(1);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextDouble() - 0.5) * 0.02f;
        }
        Linalg la = Linalg.nd4j();
        long t0 = System.nanoTime();
        float[] h;
        try (Hessian hs = new Hessian(cols, la)) {
            int batch = 512;
            float[] x = new float[batch * cols];
            float[] shared = new float[cols];
            for (int done = 0; done < tokens; done += batch) {
                for (int t = 0; t < batch; t++) {
                    double common = r.nextDouble() - 0.5; // one shared factor per token: correlated columns
                    for (int j = 0; j < cols; j++) {
                        if (t == 0 && done == 0) {
                            shared[j] = (float) (r.nextDouble() + 0.5);
                        }
                        x[t * cols + j] = (float) ((r.nextDouble() - 0.5) + common * shared[j]);
                    }
                }
                hs.addBatch(x, Math.min(batch, tokens - done));
            }
            h = hs.matrix();
        }
        long t1 = System.nanoTime();
        Gptq.Result g = Gptq.quantize(w, rows, cols, h, Gptq.Params.defaults(scheme).withActOrder(act), DType.BF16, la);
        long t2 = System.nanoTime();
        System.out.printf("GPTQ %s %dx%d, %d tokens, act_order=%s: Hessian %.1f s (incl. input generation), GPTQ %.1f s, loss %.4g; peak RSS %s%n",
                scheme, rows, cols, tokens, act, (t1 - t0) / 1e9, (t2 - t1) / 1e9, g.loss(), RtnBench.peakRss());
        if (args.length > 4 && Boolean.parseBoolean(args[4])) {
            long t3 = System.nanoTime();
            if (scheme.codebook()) {
                CodebookRefit.refit(w, h, g.quantized(), DType.BF16, 0.01, la);
            } else {
                GridRefit.refit(w, h, g.quantized(), DType.BF16, 0.01, la);
            }
            System.out.printf("refit %dx%d: %.1f s; peak RSS %s%n", rows, cols, (System.nanoTime() - t3) / 1e9, RtnBench.peakRss());
        }
    }
}
