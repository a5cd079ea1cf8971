package dev.moekit.quantize.bench;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.eval.Dequantizer;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loading a packed output for evaluation, the two ways: {@code copy} writes the dequantized fp32 checkpoint to a
 * temporary folder and loads that (what evaluation did before), {@code view} loads through the packed format's view,
 * each weight dequantized into the runtime's buffer as it loads (what it does now). Two loads each, the first with a
 * cold JIT. {@code java ... PackedLoadBench <packed> copy|view [fp32|fp16] [device=cpu]}; RtnBench writes a large
 * packed output (rtn-compressed-tensors beside its input).
 */
public final class PackedLoadBench {
    private PackedLoadBench() {
    }

    public static void main(String[] args) throws Exception {
        Path packed = Path.of(args[0]);
        boolean copy = args[1].equals("copy");
        RuntimeOptions o = new RuntimeOptions(RuntimeOptions.parseDevice(args.length > 3 ? args[3] : "cpu"),
                Precision.parse(args.length > 2 ? args[2] : "fp32"), false, 8);
        Dequantizer d = Pipeline.standard(Events.NONE).evaluation().dequantizer(packed)
                .orElseThrow(() -> new IllegalArgumentException(packed + " is not a packed checkpoint"));
        for (int run = 1; run <= 2; run++) {
            long t0 = System.nanoTime();
            if (copy) {
                Path tmp = Files.createTempDirectory("moekit-dequant");
                try {
                    d.dequantize(packed, tmp.resolve("model"), DType.F32);
                    long t1 = System.nanoTime();
                    try (CausalLm lm = CausalLm.open(tmp.resolve("model"), o)) {
                        System.out.printf("copy run %d: dequantized copy %.2f s + load %.2f s = %.2f s%n", run, (t1 - t0) / 1e9,
                                (System.nanoTime() - t1) / 1e9, (System.nanoTime() - t0) / 1e9);
                    }
                } finally {
                    FileTrees.delete(tmp);
                }
            } else {
                try (Checkpoint v = d.open(packed); CausalLm lm = CausalLm.of(v, ModelSpec.of(v), o)) {
                    System.out.printf("view run %d: load %.2f s%n", run, (System.nanoTime() - t0) / 1e9);
                }
            }
        }
        System.out.println(Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM")).findFirst().orElse(""));
    }
}
