package dev.moekit.quantize.bench;

import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantOptions;
import dev.moekit.quantize.QuantReport;
import dev.moekit.quantize.Quantizer;
import dev.moekit.toolkit.bench.SyntheticMixtral;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * RTN throughput: quantizes a synthetic bf16 checkpoint with Mixtral-8x7B shapes (written once with
 * {@link SyntheticMixtral}) to 4-bit group-128 and reports GB/s of bf16 input of the quantized modules and of the whole
 * checkpoint, plus peak RSS ({@code VmHWM}).
 *
 * <p>{@code java ... RtnBench <dir> <layers> <format: fake-quant|compressed-tensors|gptq> [runs=1]} (any registered
 * format; the older spellings FAKE_QUANT, COMPRESSED_TENSORS, GPTQ still work); runs after the first show the speed
 * with a warm JIT.
 */
public final class RtnBench {
    private RtnBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int layers = Integer.parseInt(args[1]);
        PackedFormat format = PackedFormat.named(args[2]);
        Path in = dir.resolve("mixtral-" + layers);
        if (!Files.isDirectory(in)) {
            SyntheticMixtral.write(in, layers, 2_000_000_000L, 4096, 14336);
        }
        Path out = dir.resolve("rtn-" + format.name());
        QuantOptions o = QuantOptions.defaults(format).withWriter(CheckpointWriter.Options.defaults().withReplace(true));
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        try (Checkpoint c = Checkpoint.open(in)) {
            for (int rep = 1; rep <= reps; rep++) { // later runs: the JIT is warm
                long t0 = System.nanoTime();
                QuantReport r = Quantizer.run(c, out, o, null);
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("%s run %d: %d modules, %.2f GB quantized bf16 in %.1f s = %.2f GB/s (whole checkpoint %.2f GB: %.2f GB/s); "
                                + "avg %.3f stored bits; peak RSS %s%n", format.name(), rep, r.modules().size(), r.sourceBytes() / 1e9, s,
                        r.sourceBytes() / 1e9 / s, c.totalBytes() / 1e9, c.totalBytes() / 1e9 / s, r.averageStoredBits(), peakRss());
            }
        }
    }

    static String peakRss() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM")).findFirst()
                .map(l -> l.replaceAll("\\s+", " ")).orElse("?");
    }
}
