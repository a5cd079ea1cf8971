package dev.moekit.distill.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The distill stage through the recipe runner: teacher as a fingerprinted extra input, report in the provenance. */
class DistillStageTest {
    private static Path shared(String p) {
        return Path.of(System.getProperty("moekit.shared", "../shared"), p).toAbsolutePath().normalize();
    }

    private static Recipe recipe(Path out, ObjectNode params) {
        return new Recipe(shared("models/mixtral-tiny"), out, false, 3, "cpu",
                new CalibrationSettings(List.of(shared("data/misc.valid.txt").toString()), 4, 32, false),
                List.of(new StageEntry("distill", params)), null);
    }

    @Test
    void aRecipeStageTrainsTheRoutersAndReportsTheLossCurve(@TempDir Path tmp) throws Exception {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("teacher", shared("models/mixtral-tiny").toString());
        p.put("steps", 3);
        p.put("batch_size", 2);
        p.put("windows_per_file", 4);
        p.put("train", "routers");
        p.put("lr", 1e-3);
        p.put("state_dir", tmp.resolve("state").toString());
        List<String> lines = new ArrayList<>();
        ai.djl.engine.Engine.getEngine("PyTorch");
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        ai.djl.pytorch.jni.JniUtils.setNumThreads(1);   // a shared 2-core machine stalls two OpenMP threads
        Pipeline.Result r;
        try {
            r = Pipeline.standard(Events.of(lines::add)).run(recipe(tmp.resolve("out"), p));
        } finally {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
        JsonNode stage = r.provenance().path("stages").get(0);
        JsonNode report = stage.path("report");
        assertEquals(3, report.path("steps").asInt(), report.toString());
        assertEquals(4, report.path("loss_csv").asText().split("\n").length, "header and three steps");
        byte[] png = Base64.getDecoder().decode(report.path("loss_png").asText());
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertTrue(stage.toString().contains("mixtral-tiny"), "the teacher is recorded as an extra input: " + stage);
        try (Checkpoint c = Checkpoint.open(r.output())) {
            assertEquals(189, c.names().size());
        }
        assertTrue(Files.isDirectory(tmp.resolve("state")));
        assertTrue(lines.stream().anyMatch(l -> l.contains("distill: 3 steps")), lines.toString());
    }

    @Test
    void badParametersFailBeforeAnyWork(@TempDir Path tmp) {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("train", "routers");
        p.put("kd_weight", 1.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("out"), p)));
        assertTrue(e.getMessage().contains("needs a teacher"), e.getMessage());
        ObjectNode q = Json.PRETTY.createObjectNode();
        q.put("train", "routers,bogus");
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("out"), q)));
        assertTrue(e.getMessage().contains("bogus"), e.getMessage());
        ObjectNode dense = Json.PRETTY.createObjectNode();
        dense.put("train", "routers");
        Recipe onDense = new Recipe(shared("models/llama-tiny-seed"), tmp.resolve("out"), false, 0, "cpu",
                new CalibrationSettings(List.of(shared("data/misc.valid.txt").toString()), 4, 32, false),
                List.of(new StageEntry("distill", dense)), null);
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(onDense));
        assertTrue(e.getMessage().contains("selects no tensor"), e.getMessage());
    }
}
