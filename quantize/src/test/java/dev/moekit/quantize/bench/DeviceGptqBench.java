package dev.moekit.quantize.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.method.DeviceGptq;
import dev.moekit.quantize.method.Gptq;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * GPTQ time per matrix, host ({@link Gptq}, ND4J) against device ({@link DeviceGptq} through DJL on {@code device}),
 * for an expert's up/gate shape {@code [rows, cols]} and its down shape {@code [cols, rows]}, plus the attention
 * shapes of a model of hidden size {@code cols} (q/o {@code [cols, cols]}, k/v {@code [cols/4, cols]}, Mixtral's 8
 * kv heads of 32): random Gaussian weights, Hessians accumulated on the device from {@code tokens} random correlated
 * activations, int4 group 128 symmetric, block 128, bf16 scales. Prints seconds per matrix (median of
 * {@code repeats}; on the device after one warm-up call), the device Hessian accumulation time, the time per matrix
 * when {@code batch} experts go in one device call, and the projection for Mixtral-8x7B's GPTQ step (32 layers x
 * (8 experts x (2 of [rows, cols] + 1 of [cols, rows]) + q, k, v, o)), calibration forward excluded.
 *
 * <pre>
 * java ... dev.moekit.quantize.bench.DeviceGptqBench &lt;device&gt; &lt;rows&gt; &lt;cols&gt; &lt;repeats&gt; [tokens=2048] [batch=8] [host=true]
 *   e.g. gpu:0 14336 4096 3       (Mixtral-8x7B's shapes)
 *        cpu 1024 256 2 512 4     (a quick check on CPU)
 * </pre>
 */
public final class DeviceGptqBench {
    private static final int LAYERS = 32;
    private static final int EXPERTS = 8;

    private DeviceGptqBench() {
    }

    public static void main(String[] args) {
        if (args.length < 4) {
            System.err.println("usage: DeviceGptqBench <device> <rows> <cols> <repeats> [tokens=2048] [batch=8] [host=true]");
            System.exit(2);
        }
        Device device = RuntimeOptions.parseDevice(args[0]);
        int rows = Integer.parseInt(args[1]);
        int cols = Integer.parseInt(args[2]);
        int repeats = Integer.parseInt(args[3]);
        int tokens = args.length > 4 ? Integer.parseInt(args[4]) : 2048;
        int batch = args.length > 5 ? Integer.parseInt(args[5]) : EXPERTS;
        boolean host = args.length <= 6 || Boolean.parseBoolean(args[6]);
        Gptq.Params p = Gptq.Params.defaults(new QuantScheme(4, 128, true));
        System.out.printf(Locale.ROOT, "DeviceGptqBench on %s (PyTorch %s), int4 g128, %d tokens, %d repeats, host %s%n", device, Engines.version(), tokens,
                repeats, host);
        try (NDManager m = Engines.newManager(device)) {
            Case up = time(m, "expert up/gate", rows, cols, tokens, repeats, batch, host, p);
            Case down = time(m, "expert down", cols, rows, tokens, repeats, batch, host, p);
            Case q = time(m, "attention q/o", cols, cols, tokens, repeats, 1, host, p);
            Case kv = time(m, "attention k/v", Math.max(1, cols / 4), cols, tokens, repeats, 1, host, p);
            System.out.printf(Locale.ROOT, "Mixtral-8x7B GPTQ step, %d layers x (%d experts x (2 x %dx%d + %dx%d) + q, k, v, o), forward excluded:%n", LAYERS,
                    EXPERTS, rows, cols, cols, rows);
            if (host) {
                System.out.printf(Locale.ROOT, "  host:                 %.1f min%n", project(up.host, down.host, q.host, kv.host) / 60);
            }
            System.out.printf(Locale.ROOT, "  device, one by one:   %.1f min%n", project(up.device, down.device, q.device, kv.device) / 60);
            System.out.printf(Locale.ROOT, "  device, experts in batches of %d: %.1f min%n", batch, project(up.batched, down.batched, q.device, kv.device) / 60);
        }
    }

    private static double project(double up, double down, double q, double kv) {
        return LAYERS * (EXPERTS * (2 * up + down) + 2 * q + 2 * kv);
    }

    /** Seconds per matrix: host, device one at a time, device in a batch of experts. */
    private record Case(double host, double device, double batched) {}

    private static Case time(NDManager m, String what, int rows, int cols, int tokens, int repeats, int batch, boolean withHost, Gptq.Params p) {
        SplittableRandom r = new SplittableRandom(rows * 31L + cols);
        List<float[]> ws = new ArrayList<>();
        for (int e = 0; e < Math.max(1, batch); e++) {
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (r.nextDouble() - 0.5) * 0.02f;
            }
            ws.add(w);
        }
        long t0 = System.nanoTime();
        NDList hs = new NDList();
        for (int e = 0; e < ws.size(); e++) {
            try (Hessian h = Hessian.onDevice(cols, m)) {
                for (int done = 0; done < tokens; done += 512) {
                    int n = Math.min(512, tokens - done);
                    try (NDArray z = m.randomNormal(new Shape(n, cols)); NDArray c = z.get(":, 0:1"); NDArray cs = c.mul(0.5f); NDArray x = z.add(cs)) {
                        h.addBatch(x, n); // one shared factor per token: correlated columns
                    }
                }
                hs.add(h.deviceMatrix(m));
            }
        }
        double hessian = (System.nanoTime() - t0) / 1e9 / ws.size();
        double hostS = Double.NaN;
        if (withHost) {
            float[] hm = hs.get(0).toFloatArray();
            hostS = median(repeats, () -> Gptq.quantize(ws.getFirst(), rows, cols, hm, p, DType.BF16, Linalg.nd4j()));
        }
        NDArray one = hs.get(0).reshape(1, cols, cols);
        DeviceGptq.quantize(List.of(ws.getFirst()), rows, cols, one, p, DType.BF16); // warm-up
        double devS = median(repeats, () -> DeviceGptq.quantize(List.of(ws.getFirst()), rows, cols, one, p, DType.BF16));
        double batched = devS;
        if (ws.size() > 1) {
            try (NDArray all = NDArrays.stack(hs)) {
                batched = median(repeats, () -> DeviceGptq.quantize(ws, rows, cols, all, p, DType.BF16)) / ws.size();
            }
        }
        one.close();
        hs.close();
        System.out.printf(Locale.ROOT, "%-15s %6dx%-6d device Hessian %.3f s / %d tokens; GPTQ host %.2f s, device %.3f s%s%n", what, rows, cols, hessian, tokens,
                hostS, devS, ws.size() > 1 ? String.format(Locale.ROOT, ", device in a batch of %d: %.3f s per matrix", ws.size(), batched) : "");
        return new Case(hostS, devS, batched);
    }

    private static double median(int repeats, Runnable r) {
        double[] t = new double[Math.max(1, repeats)];
        for (int i = 0; i < t.length; i++) {
            long a = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - a) / 1e9;
        }
        java.util.Arrays.sort(t);
        return t[t.length / 2];
    }
}
