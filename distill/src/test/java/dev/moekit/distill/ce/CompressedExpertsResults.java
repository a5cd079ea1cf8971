package dev.moekit.distill.ce;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.DomainResult;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ParamCount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Produces {@code docs/results/compressed-experts.md}: per reference model, full top-k against halved top-k (plain,
 * trained without CE, and with compressed experts untrained, ces-only and jointly trained), perplexity per test split,
 * KL to the original, active parameters per token and measured eval tokens/s. Every row is a recipe through the
 * pipeline (training on the valid splits, evaluation on the test splits against the input model), and every output is
 * kept under {@code <work>/<model>-<row>} with its {@code moekit eval} JSON beside it ({@code <dir>.moekit.json}) for
 * {@code scripts/hf/check_ce.py}.
 *
 * <p>{@code CompressedExpertsResults <shared dir> <out.md> <work dir> [trainTokens=16384] [evalWindows=16] [models...]}
 */
public final class CompressedExpertsResults {
    private record Row(String model, String setting, EvalResult eval, long active, String note) {}

    private CompressedExpertsResults() {}

    public static void main(String[] args) throws Exception {
        Path shared = Path.of(args[0]).toAbsolutePath().normalize();
        Path md = Path.of(args[1]);
        Path work = Path.of(args[2]).toAbsolutePath().normalize();
        long tokens = args.length > 3 ? Long.parseLong(args[3]) : 16384;
        int evalWindows = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        List<String> models = args.length > 5 ? List.of(args).subList(5, args.length)
                : List.of("mixtral-tiny", "mixtral-upcycled-tiny", "qwen2moe-tiny");
        Files.createDirectories(work);
        // one intra-op thread: on a shared machine two OpenMP threads stall each other at every barrier (tens of times slower)
        ai.djl.engine.Engine.getEngine("PyTorch");
        ai.djl.pytorch.jni.JniUtils.setNumThreads(Integer.getInteger("moekit.threads", 1));
        List<Row> rows = new ArrayList<>();
        Map<String, double[]> recovery = new LinkedHashMap<>();
        for (String m : models) {
            Path src = shared.resolve("models").resolve(m);
            int k;
            try (Checkpoint c = Checkpoint.open(src)) {
                k = ModelSpec.of(c).layerSpecs().stream().filter(LayerSpec::moe).mapToInt(LayerSpec::topK).max().orElseThrow();
            }
            int main = k / 2;
            EvalOptions eo = EvalOptions.of(testSplits(shared)).withWindows(256, evalWindows).withReference(src);
            EvalResult full = Evaluator.evaluate(src, eo, Progress.NONE);
            write(work.resolve(m + "-full.moekit.json"), full.toJson());
            rows.add(new Row(m, "full top-" + k, full, active(src), "the input"));
            String half = "top-" + main;
            String ce = main + " + " + (k - main) + " compressed";
            Row plain = run(shared, src, work.resolve(m + "-half"), m, half + ", no training", rows, evalWindows,
                    "[{\"compress_experts\": {\"main\": " + main + ", \"compressed\": false}}]", "num_experts_per_tok " + main + ", the family's own weights");
            run(shared, src, work.resolve(m + "-ce-ones"), m, ce + ", ces at ones (no training)", rows, evalWindows,
                    "[{\"compress_experts\": {\"main\": " + main + "}}]", "main experts keep their top-" + k + " weights");
            String joint = "{\"main\": %d, \"train_tokens\": %d, \"train\": \"%s\", \"lr\": %s, \"window\": 128, \"batch_size\": 4%s}";
            String weights = String.format(Locale.ROOT, "{\"teacher\": \"%s\", \"steps\": %d, \"batch_size\": 4, \"window\": 128, "
                    + "\"train\": \"routers,experts\", \"lr\": 1.0e-4}", src, Math.max(1, tokens / 512));
            Row plainTrained = run(shared, src, work.resolve(m + "-half-trained"), m, half + ", routers+experts trained (KD)", rows, evalWindows,
                    "[{\"compress_experts\": " + String.format(Locale.ROOT, joint, main, 0, "ces", "1.0e-2", ", \"compressed\": false")
                            + "}, {\"distill\": " + weights + "}]", "the same weight training without CE");
            String cesStage = "{\"compress_experts\": " + String.format(Locale.ROOT, joint, main, tokens, "ces", "1.0e-2", "") + "}";
            Row cesOnly = run(shared, src, work.resolve(m + "-ce-trained"), m, ce + ", ces trained (KD)", rows, evalWindows,
                    "[" + cesStage + "]", "only the new vectors train");
            Row cesJoint = run(shared, src, work.resolve(m + "-ce-joint"), m, ce + ", ces trained, then routers+experts+ces (KD)", rows, evalWindows,
                    "[" + cesStage + ", {\"distill\": " + weights + "}]", "the ces run, then the same weight training");
            double f = meanNll(full);
            double h = meanNll(plain.eval());
            recovery.put(m, new double[] {
                    recoveredShare(f, h, meanNll(plainTrained.eval())), recoveredShare(f, h, meanNll(cesOnly.eval())),
                    recoveredShare(f, h, meanNll(cesJoint.eval()))});
        }
        Files.writeString(md, table(rows, recovery, tokens, evalWindows));
    }

    private static List<Path> testSplits(Path shared) {
        return java.util.stream.Stream.of("python", "kernel", "dict", "misc").map(d -> shared.resolve("data/" + d + ".test.txt")).toList();
    }

    private static Row run(Path shared, Path src, Path out, String model, String setting, List<Row> rows,
                           int evalWindows, String stages, String note) throws Exception {
        ObjectNode r = Json.PRETTY.createObjectNode();
        r.put("model", src.toString());
        r.put("output", out.toString());
        r.put("replace", true);
        r.put("seed", 0);
        r.putObject("calibration").putArray("data").add(shared.resolve("data/*.valid.txt").toString());
        r.set("stages", Json.STRICT.readTree(stages));
        r.putObject("eval").put("windows", evalWindows).put("window", 256)
                .putArray("data").add(shared.resolve("data/*.test.txt").toString());
        long t0 = System.nanoTime();
        Pipeline.Result res = Pipeline.standard(m -> System.err.println("  " + model + ": " + m)).run(Recipe.parse(r, null));
        write(out.resolveSibling(out.getFileName() + ".moekit.json"), res.eval().toJson());
        Row row = new Row(model, setting, res.eval(), active(out), note);
        rows.add(row);
        System.err.printf(Locale.ROOT, "%s: %s done in %.0f s%n", model, setting, (System.nanoTime() - t0) / 1e9);
        return row;
    }

    private static long active(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return ParamCount.of(c, ModelSpec.of(c)).active();
        }
    }

    private static void write(Path p, ObjectNode json) throws Exception {
        Files.writeString(p, Json.PRETTY.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    }

    /** Mean NLL over all domains' scored tokens. */
    private static double meanNll(EvalResult e) {
        double s = 0;
        long n = 0;
        for (DomainResult d : e.domains()) {
            s += d.nll() * d.tokens();
            n += d.tokens();
        }
        return s / n;
    }

    /** Share of the NLL lost by halving top-k that a setting wins back: (halved - x) / (halved - full). */
    private static double recoveredShare(double full, double halved, double x) {
        return (halved - x) / (halved - full);
    }

    private static String table(List<Row> rows, Map<String, double[]> recovery, long tokens, int evalWindows) {
        StringBuilder s = new StringBuilder();
        s.append("# Compressed experts: results\n\n");
        s.append("Produced by `scripts/results-compressed-experts.sh` (").append(Instant.now().toString(), 0, 10).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores, fp32). Stage `compress_experts` ")
                .append("([docs/compressed-experts.md](../compressed-experts.md)); top-k halved to k_m = k/2 main experts, the other ")
                .append("k/2 of the router's top-k become compressed experts. Every training run: ").append(tokens)
                .append(" tokens of the `*.valid.txt` splits (windows of 128, batch 4, AdamW, cosine to lr/10), KD on the top-8 ")
                .append("logits of the original model with its full top-k; `ces` alone with lr 1e-2 and no weight decay (stage ")
                .append("`compress_experts`), routers+experts with lr 1e-4 (stage `distill` after it, which then trains `ces` too, ")
                .append("as a routed-expert tensor). The last CE row is the ces run followed by the same weight training as the ")
                .append("no-CE row, so it has seen twice the tokens. Evaluation: the first ").append(evalWindows)
                .append(" windows of 256 tokens of each `*.test.txt` split, perplexity per domain, KL of the model's next-token ")
                .append("distribution from the original's (mean over all scored positions), active parameters per token ")
                .append("(embeddings and lm_head included; CE rows add the k_a ces rows a token reads) and eval tokens/s ")
                .append("(batch 8, one intra-op thread, one run on a shared machine: read the speed loosely).\n\n");
        s.append("| model | setting | python | kernel | dict | misc | KL | active params | eval tok/s | note |\n");
        s.append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            s.append("| ").append(r.model()).append(" | ").append(r.setting());
            for (String d : List.of("python", "kernel", "dict", "misc")) {
                DomainResult dr = r.eval().domains().stream().filter(x -> x.domain().equals(d)).findFirst().orElseThrow();
                s.append(String.format(Locale.ROOT, " | %.3f", dr.perplexity()));
            }
            s.append(String.format(Locale.ROOT, " | %.4f | %,d | %.0f | %s |%n", r.eval().overallKl() == null ? 0.0 : r.eval().overallKl().mean(),
                    r.active(), r.eval().tokensPerSecond(), r.note()));
        }
        s.append("\nShare of the loss (mean NLL over all test tokens) lost by halving top-k that each trained setting wins back, ")
                .append("(NLL_halved - NLL) / (NLL_halved - NLL_full):\n\n");
        s.append("| model | routers+experts, no CE | CE, ces only | CE, ces then routers+experts |\n|---|---|---|---|\n");
        recovery.forEach((m, v) -> s.append(String.format(Locale.ROOT, "| %s | %.0f%% | %.0f%% | %.0f%% |%n", m, 100 * v[0], 100 * v[1], 100 * v[2])));
        return s.toString();
    }
}
