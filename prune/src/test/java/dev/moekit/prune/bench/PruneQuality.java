package dev.moekit.prune.bench;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.DomainResult;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.calib.RuntimeStats;
import dev.moekit.prune.expert.BoundPruner;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.ExpertPruning;
import dev.moekit.prune.sparse.BoundSparsifier;
import dev.moekit.prune.sparse.SparsityOptions;
import dev.moekit.prune.sparse.SparsityReport;
import dev.moekit.prune.sparse.UnstructuredPruner;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Quality of every expert criterion and of Wanda/OWL on a shared tiny checkpoint: calibrate on the valid splits,
 * prune, then perplexity and KL to the input on the test splits (evaluation protocol, fewer windows).
 * {@code PruneQuality <shared> <model> <work> [keep=6] [evalWindows=8]}
 */
public final class PruneQuality {
    private PruneQuality() {}

    public static void main(String[] args) throws Exception {
        Path shared = Path.of(args[0]);
        Path in = shared.resolve("models").resolve(args[1]);
        Path work = Path.of(args[2]);
        int keep = args.length > 3 ? Integer.parseInt(args[3]) : 6;
        int evalWindows = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        List<String> domains = List.of("python", "kernel", "dict", "misc");
        CalibrationOptions co = new CalibrationOptions(domains.stream().map(d -> shared.resolve("data/" + d + ".valid.txt")).toList(),
                256, 4, false, false, 1);
        Map<String, Path> outputs = new LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(in); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            ModelSpec spec = lm.spec();
            List<TokenBatch> batches = Calibration.batches(in, co, 4);
            CalibratedModel cm = new CalibratedModel(lm, batches, co, Progress.NONE);
            long t = System.nanoTime();
            StatsSource stats = RuntimeStats.collect(cm, 256).stats();
            System.out.printf("calibration statistics: %.1f s%n", (System.nanoTime() - t) / 1e9);
            ExpertPruneOptions budget = ExpertPruneOptions.keep(keep).withSeed(1);
            for (ExpertPruner<?> m : Methods.standard().kind(ExpertPruner.KIND).all()) {
                outputs.put(m.name(), prune(c, spec, work.resolve(m.name()), BoundPruner.of(m.name(), null), budget, stats));
            }
            outputs.put("stun_coactivation", prune(c, spec, work.resolve("stun_coact"),
                    BoundPruner.of("stun", Json.STRICT.readTree("{\"distance\": \"coactivation\"}")), budget, stats));
            for (var e : Map.of("wanda_0.5", List.of("wanda", SparsityOptions.of(0.5)), "owl_0.5", List.of("owl", SparsityOptions.of(0.5)),
                    "wanda_2:4", List.of("wanda", SparsityOptions.nm(2, 4))).entrySet()) {
                long t2 = System.nanoTime();
                SparsityReport r = UnstructuredPruner.run(c, spec, work.resolve(e.getKey()), BoundSparsifier.of((String) e.getValue().get(0), null),
                        (SparsityOptions) e.getValue().get(1), cm, CheckpointWriter.Options.defaults().withReplace(true));
                System.out.printf("%s: nominal sparsity %.4f, dense-for-lack-of-tokens %d, %.1f s%n", e.getKey(),
                        r.nominalSparsity(), r.denseForLackOfTokens().size(), (System.nanoTime() - t2) / 1e9);
                outputs.put(e.getKey(), work.resolve(e.getKey()));
            }
        }
        EvalOptions eo = EvalOptions.of(domains.stream().map(d -> shared.resolve("data/" + d + ".test.txt")).toList())
                .withWindows(256, evalWindows).withReference(in);
        System.out.println("| model | " + String.join(" ppl | ", domains) + " ppl | mean KL |");
        report("input", Evaluator.evaluate(in, eo, Progress.NONE));
        for (var e : outputs.entrySet()) {
            report(e.getKey(), Evaluator.evaluate(e.getValue(), eo, Progress.NONE));
        }
    }

    private static Path prune(Checkpoint c, ModelSpec spec, Path out, BoundPruner<?> m, ExpertPruneOptions o, StatsSource stats) {
        long t = System.nanoTime();
        var r = ExpertPruning.run(c, spec, out, m, o, stats, CheckpointWriter.Options.defaults().withReplace(true));
        System.out.printf("%s %s: kept %s (%.2f s)%n", m.name(), m.paramsJson(),
                r.layers().stream().map(l -> java.util.Arrays.toString(l.keptIndices())).toList(), (System.nanoTime() - t) / 1e9);
        return out;
    }

    private static void report(String name, EvalResult r) {
        StringBuilder sb = new StringBuilder("| " + name + " |");
        for (DomainResult d : r.domains()) {
            sb.append(String.format(" %.3f |", d.perplexity()));
        }
        sb.append(String.format(" %.4f |", r.overallKl().mean()));
        System.out.println(sb);
    }
}
