package dev.moekit.eval.bench;

import dev.moekit.eval.Evaluator;
import dev.moekit.eval.TextWindows;
import dev.moekit.eval.runtime.BlockTimes;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Forward throughput of one checkpoint on any device, measured as the GPU benchmark of docs/benchmarks.md measures
 * transformers (scripts/gpu/hf_bench.py): load to first forward, then {@code passes} passes over the same windows
 * (the first warms up the JIT and the CUDA kernels), tokens/s of each (logits and NLL included) and the perplexity.
 * A main class, not a test: {@code java -cp ... dev.moekit.eval.bench.ForwardBench MODEL DATA.txt gpu:0 fp16
 * [windows=256] [batch=8] [passes=3]}. With {@code -Dmoekit.blocktimes=true}, then
 * {@code -Dmoekit.blocktimes.passes} (2) passes with the per-block breakdown of {@link BlockTimes}, one JSON line each.
 */
public final class ForwardBench {
    private ForwardBench() {}

    /**
     * {@code passes} more passes with {@link BlockTimes} on: per pass its wall time, the per-block breakdown and
     * the remainder (pass time outside any block), plus the cost of one block boundary on an idle device.
     */
    static void timedPasses(CausalLm lm, int[][] w, RuntimeOptions o, int passes) {
        double syncUs = BlockTimes.syncNanos(o.device(), 200) / 1e3;
        BlockTimes.enable(true);
        try {
            for (int p = 0; p < passes; p++) {
                BlockTimes.reset();
                long s = System.nanoTime();
                new Evaluator(lm, null, ForwardObserver.NONE).score(w, (d, t) -> { });
                long pass = System.nanoTime() - s;
                BlockTimes.Times t = BlockTimes.snapshot();
                System.out.printf(Locale.ROOT, "{\"timed_pass\": %d, \"pass_ms\": %.1f, \"tokens_per_s\": %.0f,"
                        + " \"rest_ms\": %.1f, \"sync_us\": %.1f, \"blocks\": %s}%n", p + 1, pass / 1e6,
                        (double) w.length * w[0].length / (pass / 1e9), (pass - t.sumNanos()) / 1e6, syncUs, t.json());
            }
        } finally {
            BlockTimes.enable(false);
        }
    }

    public static void main(String[] args) {
        Path model = Path.of(args[0]);
        Path data = Path.of(args[1]);
        RuntimeOptions o = new RuntimeOptions(RuntimeOptions.parseDevice(args[2]), Precision.parse(args[3]), false,
                args.length > 5 ? Integer.parseInt(args[5]) : 8)
                .withExperts(RuntimeOptions.ExpertDispatch.valueOf(
                        System.getProperty("moekit.experts", "auto").toUpperCase(Locale.ROOT)));
        int windows = args.length > 4 ? Integer.parseInt(args[4]) : 256;
        int passes = args.length > 6 ? Integer.parseInt(args[6]) : 3;
        int[][] w;
        try (TextWindows text = TextWindows.open(model)) {
            w = text.windows(data, 256, windows);
        }
        boolean blocks = BlockTimes.enabled();       // -Dmoekit.blocktimes=true: timed passes after the plain ones
        BlockTimes.enable(false);
        long t0 = System.nanoTime();
        try (CausalLm lm = CausalLm.open(model, o)) {
            new Evaluator(lm, null, ForwardObserver.NONE).score(new int[][] {w[0]}, (d, t) -> { });
            double load = (System.nanoTime() - t0) / 1e9;
            StringBuilder rates = new StringBuilder();
            double ppl = Double.NaN;
            for (int p = 0; p < passes; p++) {
                long s = System.nanoTime();
                ppl = Math.exp(new Evaluator(lm, null, ForwardObserver.NONE).score(w, (d, t) -> { }).meanNll());
                double tps = (double) w.length * w[0].length / ((System.nanoTime() - s) / 1e9);
                rates.append(rates.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.0f", tps));
            }
            System.out.printf(Locale.ROOT, "{\"model\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"windows\": %d,"
                    + " \"batch\": %d, \"load_to_first_forward_s\": %.2f, \"tokens_per_s\": [%s], \"ppl\": %.4f,"
                    + " \"experts\": \"%s\"}%n", model, args[2], args[3], w.length, o.batchSize(), load, rates, ppl,
                    o.experts());
            if (blocks) {
                timedPasses(lm, w, o, Integer.getInteger("moekit.blocktimes.passes", 2));
            }
        }
    }
}
