package dev.moekit.prune.bench;

import dev.moekit.prune.expert.BoundPruner;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruneReport;
import dev.moekit.prune.expert.ExpertPruning;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.bench.SyntheticMixtral;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Benchmark of STUN stage 1 (router-weight distances, no calibration) against a plain copy of the same checkpoint
 * through {@link CheckpointWriter#copy}. Run each mode in its own JVM so peak RSS is per mode:
 * <pre>
 *   StunSpeed gen  &lt;dir&gt; &lt;layers&gt;     synthetic bf16 Mixtral-8x7B shapes (about 2.9 GB per layer)
 *   StunSpeed copy &lt;in&gt; &lt;out&gt;         plan every tensor, copy each, copy other files, commit
 *   StunSpeed stun &lt;in&gt; &lt;out&gt; [ratio]  uniform router-weight STUN removing {@code ratio} (0.25) of the experts
 * </pre>
 * Prints wall seconds and the JVM's peak resident set (VmHWM).
 */
public final class StunSpeed {
    private StunSpeed() {}

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        String what = switch (args[0]) {
            case "gen" -> {
                SyntheticMixtral.write(Path.of(args[1]), Integer.parseInt(args[2]), CheckpointWriter.DEFAULT_MAX_SHARD, 4096, 14336);
                yield "generated";
            }
            case "copy" -> copy(Path.of(args[1]), Path.of(args[2]));
            case "stun" -> stun(Path.of(args[1]), Path.of(args[2]), args.length > 3 ? Double.parseDouble(args[3]) : 0.25);
            default -> throw new IllegalArgumentException("mode gen | copy | stun");
        };
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%s: %s in %.2f s, peak RSS %s%n", args[0], what, s, peakRss());
    }

    private static String copy(Path in, Path out) {
        try (Checkpoint c = Checkpoint.open(in)) {
            List<TensorSpec> plan = c.names().stream().map(n -> TensorSpec.of(c.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withReplace(true), in)) {
                for (String n : c.names()) {
                    w.copy(n, c.shard(n), n);
                }
                w.copyOtherFiles(c);
                w.commit(c.config());
            }
            return String.format("%.2f GB copied", c.totalBytes() / 1e9);
        }
    }

    private static String stun(Path in, Path out, double ratio) {
        try (Checkpoint c = Checkpoint.open(in)) {
            ExpertPruneOptions o = ExpertPruneOptions.ratio(ratio);
            ExpertPruneReport r = ExpertPruning.run(c, dev.moekit.toolkit.model.ModelSpec.of(c), out, BoundPruner.of("stun", null), o, StatsSource.NONE,
                    CheckpointWriter.Options.defaults().withReplace(true));
            return String.format("%d -> %d experts, %.2f GB -> %.2f GB, kept %s", r.expertsBefore(), r.expertsAfter(),
                    r.bytesIn() / 1e9, r.bytesOut() / 1e9, r.layers().stream().map(l -> java.util.Arrays.toString(l.keptIndices())).toList());
        }
    }

    private static String peakRss() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM")) {
                return line.substring(6).trim();
            }
        }
        return "?";
    }
}
