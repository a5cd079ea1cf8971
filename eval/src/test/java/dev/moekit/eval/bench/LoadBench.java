package dev.moekit.eval.bench;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Model load time alone (every weight converted from the checkpoint's dtype into the buffers DJL takes, and the
 * arrays created), on any device: {@code reps} loads in one JVM, the first with a cold JIT, then the peak RSS. A main
 * class, not a test: {@code java -cp ... dev.moekit.eval.bench.LoadBench MODEL cpu fp16 [reps=3]}; a synthetic
 * Mixtral-8x7B-shaped checkpoint comes from {@code dev.moekit.toolkit.bench.SyntheticMixtral}.
 */
public final class LoadBench {
    private LoadBench() {}

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        RuntimeOptions o = new RuntimeOptions(RuntimeOptions.parseDevice(args[1]), Precision.parse(args[2]), false, 8);
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        // engine start before the first load, timed apart: libtorch's libraries, the device context, one tiny op
        long e0 = System.nanoTime();
        try (ai.djl.ndarray.NDManager m = dev.moekit.eval.runtime.Engines.newManager(o.device())) {
            m.ones(new ai.djl.ndarray.types.Shape(1)).toFloatArray();
        }
        double engine = (System.nanoTime() - e0) / 1e9;
        StringBuilder times = new StringBuilder();
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            try (CausalLm lm = CausalLm.open(model, o)) {
                double s = (System.nanoTime() - t0) / 1e9;
                times.append(times.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", s));
            }
        }
        String rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM"))
                .findFirst().map(l -> l.replaceAll("\\s+", " ")).orElse("?");
        System.out.printf(Locale.ROOT, "{\"model\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"engine_start_s\": %.2f, \"load_s\": [%s], \"peak_rss\": \"%s\"}%n",
                model, args[1], args[2], engine, times, rss);
    }
}
