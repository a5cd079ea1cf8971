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
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The slim stage through the recipe runner: planned layout, rounds, validation. */
class SlimStageTest {
    private static Path shared(String p) {
        return Path.of(System.getProperty("moekit.shared", "../shared"), p).toAbsolutePath().normalize();
    }

    private static Recipe recipe(String model, Path out, ObjectNode params) {
        return new Recipe(shared("models/" + model), out, false, 0, "cpu",
                new CalibrationSettings(List.of(shared("data/misc.valid.txt").toString()), 4, 64, false),
                List.of(new StageEntry("slim", params)), null);
    }

    @Test
    void twoRoundsWithTrainingWriteThePlannedLayout(@TempDir Path tmp) throws Exception {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("expert_ffn", 0.25);
        p.put("kv_groups", 3);
        p.put("distill_tokens", 512);
        p.put("score_windows", 4);
        p.put("batch_size", 2);
        p.put("windows_per_file", 4);
        ai.djl.engine.Engine.getEngine("PyTorch");
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        ai.djl.pytorch.jni.JniUtils.setNumThreads(1);
        Pipeline.Result r;
        Layout planned;
        try {
            Pipeline pl = Pipeline.standard(Events.NONE);
            Recipe rec = recipe("qwen2moe-tiny", tmp.resolve("out"), p);
            planned = pl.prepare(rec).plans().getLast().output();
            r = pl.run(rec);
        } finally {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
        JsonNode report = r.provenance().path("stages").get(0).path("report");
        assertEquals(2, report.path("rounds").size(), report.toString());
        assertEquals(64, report.path("rounds").get(0).path("expert_ffn").asInt(), "geometric: 128 -> 64 -> 32");
        assertEquals("ce", report.path("rounds").get(0).path("score_loss").asText(), "round 1 scores the original by CE");
        assertEquals("kd", report.path("rounds").get(1).path("score_loss").asText());
        assertEquals(512, report.path("tokens").asLong());
        assertTrue(report.path("rounds").get(1).path("distill").path("loss_csv").asText().contains("\n"));
        try (Checkpoint c = Checkpoint.open(r.output())) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(List.of(), SpecChecker.checkAll(c, s));
            assertEquals(32, s.layer(0).expertFfn());
            assertEquals(3, s.kvHeads());
            assertEquals(planned.tensors(), c.names().stream().map(n -> TensorSpec.of(c.info(n))).toList(), "the plan is the output");
            assertEquals(planned.config().path("head_dim"), c.config().path("head_dim"));
        }
        assertTrue(Files.notExists(r.output().resolveSibling("slim-rounds")));
    }

    @Test
    void badParametersFailWhenPlanned(@TempDir Path tmp) {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("kv_groups", 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Pipeline.standard(Events.NONE).prepare(recipe("mixtral-tiny", tmp.resolve("out"), p)));
        assertTrue(e.getMessage().contains("kv_groups"), e.getMessage());
        ObjectNode q = Json.PRETTY.createObjectNode();
        q.put("expert_ffn", 1.5);
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe("mixtral-tiny", tmp.resolve("out"), q)));
        assertTrue(e.getMessage().contains("expert_ffn"), e.getMessage());
        ObjectNode d = Json.PRETTY.createObjectNode();
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe("llama-tiny-seed", tmp.resolve("out"), d)));
        assertTrue(e.getMessage().contains("no MoE layer"), e.getMessage());
        ObjectNode t = Json.PRETTY.createObjectNode();
        t.put("stages", 2);
        t.putArray("stage_tokens").add(10);
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe("mixtral-tiny", tmp.resolve("out"), t)));
        assertTrue(e.getMessage().contains("stage_tokens"), e.getMessage());
    }
}
