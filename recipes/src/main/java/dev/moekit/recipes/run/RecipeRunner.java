package dev.moekit.recipes.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Stage;
import dev.moekit.toolkit.method.StageContext;
import dev.moekit.toolkit.method.Stages;
import dev.moekit.toolkit.model.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs a {@link Recipe}: validates everything first (input opens and parses, every stage's parameters bind, the output
 * may be written), then runs the stages in order, each reading the previous one's output from
 * {@code <output>.work/NN-<stage>/}, evaluates, writes provenance, and moves the result into place. A stage whose
 * folder holds a completion marker for the same input and parameters is reused, so an interrupted run resumes where it
 * stopped. The input is never written.
 */
public final class RecipeRunner {
    public static final String PROVENANCE = "moekit_provenance.json";
    static final String STAGE_MARKER = "moekit_stage.json";

    private final Stages registry;
    private final Evaluation evaluation;
    private final Consumer<String> log;

    public RecipeRunner(Stages registry, Evaluation evaluation, Consumer<String> log) {
        this.registry = registry;
        this.evaluation = evaluation;
        this.log = log;
    }

    /** What a run produced. */
    public record Result(Path output, ObjectNode provenance) {}

    public Result run(Recipe r) throws Exception {
        Path input = r.model().toAbsolutePath().normalize();
        Path output = r.output().toAbsolutePath().normalize();
        try (Checkpoint c = Checkpoint.open(input)) {
            ModelSpec.of(c); // a model no family describes fails here, before any work
        }
        if (output.startsWith(input) || input.startsWith(output)) {
            throw new CheckpointException(output + ": output path is inside the input " + input + " (or contains it)");
        }
        if (Files.exists(output) && !r.replace()) {
            throw new CheckpointException(output + ": output already exists; set 'replace: true' (or --replace) to overwrite it");
        }
        List<Stage> stages = new ArrayList<>();
        for (Recipe.StageEntry e : r.stages()) {
            stages.add(registry.get(e.name()).create(e.params()));
        }
        if (r.eval() != null && evaluation == null) {
            throw new IllegalArgumentException("recipe asks for eval but no evaluator is available");
        }

        Path work = output.resolveSibling(output.getFileName() + ".work");
        Files.createDirectories(work);
        StageContext ctx = new StageContext(input, r.calibration(), r.device(), r.seed(), log);
        ObjectNode prov = Json.PRETTY.createObjectNode();
        prov.put("moekit_version", dev.moekit.recipes.cli.Main.VERSION);
        prov.put("started", Instant.now().toString());
        prov.put("java", System.getProperty("java.version"));
        prov.set("recipe", r.toJson());
        String inputPrint = Fingerprint.of(input);
        prov.put("input_fingerprint", inputPrint);
        var reports = prov.putArray("stages");

        Path current = input;
        String key = inputPrint;
        for (int i = 0; i < stages.size(); i++) {
            Stage s = stages.get(i);
            Recipe.StageEntry e = r.stages().get(i);
            key = Fingerprint.sha256(key + "|" + e.name() + "|" + e.params() + "|" + r.seed() + "|" + r.calibration() + "|" + r.device());
            Path dir = work.resolve(String.format("%02d-%s", i + 1, s.name()));
            ObjectNode rep = reusable(dir, key);
            if (rep != null) {
                log.accept(String.format("stage %d/%d %s: reusing finished result in %s", i + 1, stages.size(), s.name(), dir));
            } else {
                FileTrees.delete(dir);
                log.accept(String.format("stage %d/%d %s ...", i + 1, stages.size(), s.name()));
                long t0 = System.nanoTime();
                JsonNode report = s.apply(current, dir, ctx);
                rep = Json.PRETTY.createObjectNode();
                rep.put("stage", s.name());
                rep.put("key", key);
                rep.put("seconds", (System.nanoTime() - t0) / 1e9);
                rep.set("report", report);
                Json.PRETTY.writeValue(dir.resolve(STAGE_MARKER).toFile(), rep);
                log.accept(String.format("stage %d/%d %s done in %.1f s", i + 1, stages.size(), s.name(), rep.get("seconds").asDouble()));
            }
            reports.add(rep);
            current = dir;
        }
        if (r.eval() != null) {
            log.accept("evaluating " + current.getFileName() + (r.eval().reference() ? " against the input" : ""));
            JsonNode ev = evaluation.evaluate(current, r.eval().reference() ? input : null, r.eval(), r.device(), log);
            prov.set("eval", ev);
        }
        prov.put("finished", Instant.now().toString());
        Files.deleteIfExists(current.resolve(STAGE_MARKER));
        Json.PRETTY.writeValue(current.resolve(PROVENANCE).toFile(), prov);
        FileTrees.publish(current, output);
        FileTrees.delete(work);
        return new Result(output, prov);
    }

    private static ObjectNode reusable(Path dir, String key) {
        Path marker = dir.resolve(STAGE_MARKER);
        if (!Files.isRegularFile(marker)) {
            return null;
        }
        try {
            JsonNode m = Json.STRICT.readTree(marker.toFile());
            return m.path("key").asText().equals(key) ? (ObjectNode) m : null;
        } catch (IOException e) {
            return null;
        }
    }
}
