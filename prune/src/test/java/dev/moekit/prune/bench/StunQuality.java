package dev.moekit.prune.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * STUN against the calibrated baselines through the pipeline as users run it: a recipe per setting (calibration on 8
 * windows of 256 tokens of every {@code *.valid.txt}, evaluation on 8 windows of every {@code *.test.txt} against the
 * unpruned model), 25% of the experts removed uniformly. Prints one Markdown row per setting with the mean KL, and
 * per model the best baseline and STUN's distance to it.
 *
 * <p>{@code StunQuality <shared> <work> [ratio=0.25] [evalWindows=8] [calWindows=8] [models...]}; {@code -Dsettings=a|b}
 * runs only the STUN settings whose label contains one of the parts, {@code -Dbaselines=false} skips the baselines.
 */
public final class StunQuality {
    /** The settings measured: label and the prune stage's keys besides the budget. */
    static final Map<String, String> SETTINGS = new LinkedHashMap<>();

    static {
        SETTINGS.put("frequency", "{\"method\": \"frequency\"}");
        SETTINGS.put("weighted_frequency", "{\"method\": \"weighted_frequency\"}");
        SETTINGS.put("ean", "{\"method\": \"ean\"}");
        SETTINGS.put("reap", "{\"method\": \"reap\"}");
        SETTINGS.put("stun, reference (nearest_to_mean, plain distances)",
                "{\"method\": \"stun\", \"representative\": \"nearest_to_mean\", \"usage_weighted\": false}");
        SETTINGS.put("stun, weighted centroid, plain distances", "{\"method\": \"stun\", \"usage_weighted\": false}");
        SETTINGS.put("stun, default", "{\"method\": \"stun\"}");
        SETTINGS.put("stun, usage router_norm", "{\"method\": \"stun\", \"usage\": \"router_norm\"}");
        SETTINGS.put("stun, coactivation", "{\"method\": \"stun\", \"distance\": \"coactivation\"}");
        SETTINGS.put("stun, coactivation, reference scaling", "{\"method\": \"stun\", \"distance\": \"coactivation\", \"coactivation_norm\": \"mean\"}");
        SETTINGS.put("stun, mixed", "{\"method\": \"stun\", \"distance\": \"mixed\"}");
    }

    private static final List<String> BASELINES = List.of("frequency", "weighted_frequency", "ean", "reap");

    private StunQuality() {}

    public static void main(String[] args) throws Exception {
        Path shared = Path.of(args[0]).toAbsolutePath().normalize();
        Path work = Path.of(args[1]).toAbsolutePath().normalize();
        double ratio = args.length > 2 ? Double.parseDouble(args[2]) : 0.25;
        int evalWindows = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int calWindows = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        List<String> models = args.length > 5 ? List.of(args).subList(5, args.length)
                : List.of("mixtral-tiny", "mixtral-upcycled-tiny", "qwen2moe-tiny");
        String only = System.getProperty("settings", "");
        boolean withBaselines = Boolean.parseBoolean(System.getProperty("baselines", "true"));
        System.out.println("| model | setting | mean KL | top-1 | kept (layer 0) |");
        System.out.println("|---|---|---|---|---|");
        List<String> summary = new ArrayList<>();
        for (String model : models) {
            double best = Double.POSITIVE_INFINITY;
            String bestName = null;
            Map<String, Double> kl = new LinkedHashMap<>();
            for (var s : SETTINGS.entrySet()) {
                boolean baseline = BASELINES.contains(s.getKey());
                if (baseline ? !withBaselines : !only.isEmpty() && java.util.Arrays.stream(only.split("\\|")).noneMatch(s.getKey()::contains)) {
                    continue;
                }
                ObjectNode prune = (ObjectNode) Json.STRICT.readTree(s.getValue());
                prune.put("experts", ratio);
                Pipeline.Result r = run(shared, model, work.resolve(model + "-" + s.getKey().replaceAll("[^a-z_]+", "_")), prune,
                        evalWindows, calWindows);
                double mean = r.eval().overallKl().mean();
                kl.put(s.getKey(), mean);
                JsonNode rep = r.provenance().path("stages").path(0).path("report");
                double top1 = r.eval().domains().stream().mapToDouble(d -> d.top1()).average().orElse(Double.NaN);
                System.out.printf(Locale.ROOT, "| %s | %s | %.4f | %.1f%% | %s |%n", model, s.getKey(), mean, 100 * top1,
                        rep.path("layers").path(0).path("kept"));
                rep.path("notes").forEach(n -> System.out.println("    note: " + n.asText()));
                if (BASELINES.contains(s.getKey()) && mean < best) {
                    best = mean;
                    bestName = s.getKey();
                }
            }
            for (var e : kl.entrySet()) {
                if (e.getKey().startsWith("stun")) {
                    summary.add(String.format(Locale.ROOT, "%s: %s %.4f vs best baseline %s %.4f (%+.1f%%)", model, e.getKey(), e.getValue(),
                            bestName, best, 100 * (e.getValue() / best - 1)));
                }
            }
        }
        summary.forEach(System.out::println);
    }

    /** Runs one recipe: {@code prune} as the only stage on {@code model}, calibrated and evaluated as in the class comment. */
    public static Pipeline.Result run(Path shared, String model, Path out, ObjectNode prune, int evalWindows, int calWindows) throws Exception {
        ObjectNode r = Json.PRETTY.createObjectNode();
        r.put("model", shared.resolve("models").resolve(model).toString());
        r.put("output", out.toString());
        r.put("replace", true);
        r.putObject("calibration").put("windows", calWindows).put("window", 256)
                .putArray("data").add(shared.resolve("data/*.valid.txt").toString());
        r.putArray("stages").addObject().set("prune", prune);
        r.putObject("eval").put("windows", evalWindows).put("window", 256)
                .putArray("data").add(shared.resolve("data/*.test.txt").toString());
        Events quiet = m -> {
            if (m.contains("warning") || m.contains("orthogonal")) {
                System.out.println("    event: " + m);
            }
        };
        return Pipeline.standard(quiet).run(Recipe.parse(r, null));
    }
}
