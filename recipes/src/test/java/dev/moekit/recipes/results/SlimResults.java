package dev.moekit.recipes.results;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.EvalResult;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Produces {@code docs/results/slimmoe.md}: SlimMoE on the reference MoE models at 50% and 25% of the expert FFN
 * width, with all KV groups and with one group in four dropped: (a) one-shot slimming without training, (b) one-shot
 * plus distillation, (c) two prune-then-distill rounds with the same total tokens, and (d) whole-expert pruning at the
 * same parameter count (the best of several criteria by KL), without training and with the same distillation.
 *
 * <p>{@code SlimResults <shared dir> <out.md> [evalWindows=4] [calibrationWindows=16] [models...]}; the training
 * budget per row is {@code -Dslim.tokens} (default 8192), the learning rate {@code -Dslim.lr} (default 1e-4), the expert
 * widths {@code -Dslim.fractions} (default {@code 0.5,0.25}).
 */
public final class SlimResults {
    private static final List<String> BASELINES = List.of("weighted_frequency", "reap");
    private static final long TOKENS = Long.getLong("slim.tokens", 8192);
    private static final double LR = Double.parseDouble(System.getProperty("slim.lr", "1e-4"));
    private static final int BATCH = 2;
    /** Windows of 256 tokens read from each valid split for training (4 x 32 x 256 = 32768 tokens: less than one epoch). */
    private static final int TRAIN_WINDOWS = 32;
    private static final int SCORE_WINDOWS = 16;

    private SlimResults() {}

    public static void main(String[] args) throws Exception {
        RunArgs a = RunArgs.parse(args, 4, 16, "moekit-slim-results");
        StringBuilder md = new StringBuilder();
        md.append("# SlimMoE results\n\n");
        md.append("Produced by `scripts/results-slimmoe.sh` (").append(Instant.now().toString(), 0, 10).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores shared with other jobs). ");
        md.append("Calibration (expert-pruning statistics): ").append(a.calWindows()).append(" windows of 256 tokens from each `*.valid.txt` split; ")
                .append("scoring and training text: the first ").append(TRAIN_WINDOWS).append(" windows of 256 tokens of each `*.valid.txt` split (")
                .append(4 * TRAIN_WINDOWS * 256).append(" tokens). Evaluation: the first ").append(a.evalWindows())
                .append(" windows of 256 tokens of each `*.test.txt` split, perplexity per domain, KL divergence of the result's next-token ")
                .append("distribution from the original model's (mean over all scored positions) and top-1 agreement.\n\n");
        md.append("Protocol. `slim` keeps the given fraction of every routed expert's FFN neurons (and of the shared expert's), each expert ")
                .append("its own top neurons by first-order sensitivity `sum |W * dL/dW|` over its gate/up rows and down column, scored on ")
                .append(SCORE_WINDOWS).append(" of those windows; `kv 3/4` keeps the 3 most sensitive of 4 GQA groups per layer (6 of 8 query heads, `head_dim` ")
                .append("written). The scores of the first round are of next-token CE (the KD gradient against the original is zero while the ")
                .append("model is the original); later rounds score by top-8 KD against the original. Distillation: top-8 KD at T=1 against the ")
                .append("original, all parameters, AdamW lr ").append(LR).append(" (cosine to lr/10 in each round), batch ").append(BATCH)
                .append(" windows, ").append(TOKENS).append(" tokens per row in total; two rounds split it evenly, with expert widths geometric ")
                .append("(50%: 71% then 50%; 25%: 50% then 25%) and the KV group removed in round 1. (d) removes whole experts (uniform per layer) ")
                .append("down to the parameter count of the slimmed model, the best of ").append(String.join(", ", BASELINES))
                .append(" by mean KL; `+ distill` trains it with the same budget and settings. Training cost: tokens, training time, ")
                .append("tokens/s and the KD loss (first step -> mean of the last steps) per round are in the notes.\n\n");
        ResultTable table = new ResultTable(a.outMd(), md.toString(), a.models());
        for (String m : a.models()) {
            runModel(a.setup(m), table);
        }
        table.write();
    }

    private static void runModel(ModelSetup setup, ResultTable table) throws Exception {
        String name = setup.name();
        Path work = setup.work();
        if (Boolean.parseBoolean(System.getProperty("slim.baseline", "true"))) {
            setup.baseline(table, "original");
        }
        ModelSpec spec;
        long p0;
        try (Checkpoint c = Checkpoint.open(setup.original())) {
            spec = ModelSpec.of(c);
            p0 = c.totalParameters();
        }
        int kv = spec.kvHeads();
        Map<Integer, Baseline> done = new HashMap<>();
        for (double f : Arrays.stream(System.getProperty("slim.fractions", "0.5,0.25").split(",")).mapToDouble(Double::parseDouble).toArray()) {
            for (Integer groups : new Integer[] {null, kv - 1}) {
                String size = String.format(Locale.ROOT, "experts %d%%%s", Math.round(f * 100), groups == null ? "" : ", kv " + groups + "/" + kv);
                String tag = Math.round(f * 100) + (groups == null ? "" : "-kv" + groups);
                Path a = work.resolve("a-" + tag);
                Pipeline.Result ra = RecipeRun.run(setup, a, RecipeRun.stages("slim", slim(f, groups, 1, 0)));
                long params = params(a);
                table.add(name, "(a) one-shot slim, " + size, ra.eval(), cost(ra, params), ModelSetup.bytes(a));
                System.err.println(name + ": (a) " + size + " done");
                Path b = work.resolve("b-" + tag);
                Pipeline.Result rb = RecipeRun.run(setup, b, RecipeRun.stages("slim", slim(f, groups, 1, TOKENS)));
                table.add(name, "(b) one-shot slim + distill, " + size, rb.eval(), cost(rb, params), ModelSetup.bytes(b));
                System.err.println(name + ": (b) " + size + " done");
                Path c = work.resolve("c-" + tag);
                Pipeline.Result rc = RecipeRun.run(setup, c, RecipeRun.stages("slim", slim(f, groups, 2, TOKENS)));
                table.add(name, "(c) 2-stage slim + distill, " + size, rc.eval(), cost(rc, params), ModelSetup.bytes(c));
                System.err.println(name + ": (c) " + size + " done");
                expertBaseline(setup, table, spec, p0, params, size, done);
            }
        }
    }

    /** The expert-pruning rows measured for one kept count (reused when two settings need the same count). */
    private record Baseline(String method, EvalResult eval, String pruneNote, long bytes, EvalResult distilled, String distillNote, long distilledBytes) {}

    /** (d): whole-expert pruning to about {@code target} parameters, best criterion, then the same distillation. */
    private static void expertBaseline(ModelSetup setup, ResultTable table, ModelSpec spec, long p0, long target, String size,
                                       Map<Integer, Baseline> done) throws Exception {
        String name = setup.name();
        int e = spec.layer(0).experts();
        long moeLayers = spec.layerSpecs().stream().filter(l -> l.moe()).count();
        long perExpert = 3L * spec.hidden() * spec.layer(0).expertFfn() + spec.hidden();
        int keep = (int) Math.round(e - (double) (p0 - target) / (moeLayers * perExpert));
        int topK = spec.layer(0).topK();
        if (keep < topK) {
            table.add(name, "(d) expert pruning, " + size, null, String.format(Locale.ROOT,
                    "not run: the same parameter count needs %d experts per layer, fewer than top-k %d", keep, topK), 0);
            return;
        }
        Baseline b = done.get(keep);
        if (b == null) {
            b = measure(setup, keep, target);
            done.put(keep, b);
        }
        table.add(name, "(d) expert pruning (" + b.method() + ", keep " + keep + "/" + e + "), " + size, b.eval(),
                b.pruneNote() + String.format(Locale.ROOT, " (slim: %.2fM)", target / 1e6), b.bytes());
        table.add(name, "(d) expert pruning + distill, " + size, b.distilled(), b.distillNote(), b.distilledBytes());
        System.err.println(name + ": (d) " + size + " done");
    }

    private static Baseline measure(ModelSetup setup, int keep, long target) throws Exception {
        String best = null;
        EvalResult bestEval = null;
        double bestKl = Double.POSITIVE_INFINITY;
        List<String> tried = new ArrayList<>();
        for (String m : BASELINES) {
            Path out = setup.work().resolve("d-" + m + "-" + keep);
            Pipeline.Result r;
            try {
                r = RecipeRun.run(setup, out, RecipeRun.stages("prune", RecipeRun.params("method", m, "keep", keep)));
            } catch (IllegalArgumentException ex) {
                tried.add(m + " not run");
                continue;
            }
            double kl = r.eval().overallKl().mean();
            tried.add(String.format(Locale.ROOT, "%s %.4f", m, kl));
            if (kl < bestKl) {
                bestKl = kl;
                best = m;
                bestEval = r.eval();
            }
        }
        Path bestOut = setup.work().resolve("d-" + best + "-" + keep);
        long params = params(bestOut);
        String note = String.format(Locale.ROOT, "%.2fM params; KL by criterion: %s", params / 1e6, String.join(", ", tried));
        Path dd = setup.work().resolve("dd-" + best + "-" + keep);
        ObjectNode distill = RecipeRun.params("teacher", setup.original().toString(), "steps", Math.max(1, TOKENS / (BATCH * 256L)),
                "batch_size", BATCH, "lr", LR, "windows_per_file", TRAIN_WINDOWS);
        Pipeline.Result rd = RecipeRun.run(setup, dd, RecipeRun.stages("prune", RecipeRun.params("method", best, "keep", keep), "distill", distill));
        JsonNode rep = RecipeRun.report(rd, 1);
        String dnote = String.format(Locale.ROOT, "%.2fM params; %d tokens, KD %.3f -> %.3f, %.1f s (%.0f tokens/s)", params / 1e6,
                rep.path("tokens").asLong(), rep.path("first_loss").asDouble(), rep.path("last_loss").asDouble(),
                rep.path("seconds").asDouble(), rep.path("tokens_per_second").asDouble());
        return new Baseline(best, bestEval, note, ModelSetup.bytes(bestOut), rd.eval(), dnote, ModelSetup.bytes(dd));
    }

    private static ObjectNode slim(double f, Integer groups, int stages, long tokens) {
        ObjectNode p = RecipeRun.params("expert_ffn", f, "stages", stages, "distill_tokens", tokens, "batch_size", BATCH, "lr", LR,
                "windows_per_file", TRAIN_WINDOWS, "score_windows", SCORE_WINDOWS);
        if (groups != null) {
            p.put("kv_groups", groups);
        }
        return p;
    }

    /** Parameters, and per round the training tokens, KD loss first -> last, time and throughput. */
    private static String cost(Pipeline.Result r, long params) {
        JsonNode rep = RecipeRun.report(r, 0);
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%.2fM params", params / 1e6));
        ArrayNode rounds = (ArrayNode) rep.path("rounds");
        for (JsonNode round : rounds) {
            JsonNode d = round.path("distill");
            b.append(String.format(Locale.ROOT, "; round %d: ffn %d, kv %d", round.path("round").asInt(), round.path("expert_ffn").asInt(),
                    round.path("kv_groups").asInt()));
            if (!d.isMissingNode()) {
                b.append(String.format(Locale.ROOT, ", %d tokens, KD %.3f -> %.3f, %.1f s (%.0f tokens/s)", d.path("tokens").asLong(),
                        d.path("first_loss").asDouble(), d.path("last_loss").asDouble(), d.path("seconds").asDouble(),
                        d.path("tokens_per_second").asDouble()));
            }
        }
        b.append(String.format(Locale.ROOT, "; stage wall %.1f s", rep.path("seconds").asDouble()));
        return b.toString();
    }

    private static long params(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return c.totalParameters();
        }
    }
}
