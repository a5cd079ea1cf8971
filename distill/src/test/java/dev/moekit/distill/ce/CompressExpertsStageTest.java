package dev.moekit.distill.ce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stage {@code compress_experts} through the recipe runner: validation before work, training ces, the output. */
class CompressExpertsStageTest {
    private static Recipe recipe(Path model, Path out, ObjectNode params) {
        return new Recipe(model, out, false, 5, "cpu",
                new CalibrationSettings(List.of(CeFixtures.shared().resolve("data/python.valid.txt").toString(),
                        CeFixtures.shared().resolve("data/misc.valid.txt").toString()), 4, 64, false),
                List.of(new StageEntry("compress_experts", params)), null);
    }

    private static ObjectNode params(String json) throws Exception {
        return (ObjectNode) Json.STRICT.readTree(json);
    }

    private static String refusal(Path model, Path out, String json) throws Exception {
        ObjectNode p = params(json);
        Exception e = assertThrows(Exception.class, () -> Pipeline.standard(Events.NONE).prepare(recipe(model, out, p)));
        assertFalse(Files.exists(out), "nothing written");
        return e.getMessage();
    }

    @Test
    void parametersAreCheckedAgainstTheModelBeforeAnyWork(@TempDir Path tmp) throws Exception {
        Path mixtral = CeFixtures.model("mixtral-tiny");
        Path out = tmp.resolve("out");
        assertTrue(refusal(mixtral, out, "{\"main\": 2}").contains("main 2 must be below the top-k 2"));
        assertTrue(refusal(mixtral, out, "{}").contains("needs 'main'"));
        assertTrue(refusal(mixtral, out, "{\"main\": 0}").contains("main must be >= 1"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"layout\": \"code\"}").contains("512 wide (> hidden 256)"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"layout\": \"paper\"}").contains("use split or code"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"train_tokens\": -5}").contains("train_tokens"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"compressed\": false, \"train_tokens\": 1000, \"train\": \"ces\"}")
                .contains("trains nothing without compressed experts"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"loss\": \"mse\"}").contains("kd or ce"));
        assertTrue(refusal(mixtral, out, "{\"main\": 1, \"train\": \"cse\"}").contains("unknown parameter group"));
        assertTrue(refusal(CeFixtures.model("llama-tiny-seed"), out, "{\"main\": 1}").contains("dense"));
        Path ce = CeFixtures.compress(mixtral, tmp.resolve("ce"), 1, true, "split");
        assertTrue(refusal(ce, out, "{\"main\": 1}").contains("already has compressed experts"));
    }

    /**
     * mixtral-tiny top-2 as 1 main + 1 compressed expert: training only ces (KD on the input model's top-8 logits)
     * lowers the KL to the input model on held-out text below what ces at ones gives; the output passes the spec
     * check, keeps every other tensor byte for byte and has trained (no longer all-ones) ces.
     */
    @Test
    void trainingCesLowersTheKlToTheOriginalModel(@TempDir Path tmp) throws Exception {
        Path src = CeFixtures.model("mixtral-tiny");
        Engine.getEngine("PyTorch");
        int threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        try {
            Pipeline.Result untrained = Pipeline.standard(Events.NONE).run(recipe(src, tmp.resolve("ones"), params("{\"main\": 1}")));
            assertEquals(0, untrained.provenance().path("stages").get(0).path("report").path("steps").asInt());
            Pipeline.Result r = Pipeline.standard(Events.NONE).run(recipe(src, tmp.resolve("trained"),
                    params("{\"main\": 1, \"train_tokens\": 7680, \"batch_size\": 4, \"lr\": 0.02, \"checkpoint_every\": 10, \"state_dir\": \""
                            + tmp.resolve("state") + "\"}")));
            JsonNode rep = r.provenance().path("stages").get(0).path("report");
            assertEquals(30, rep.path("steps").asInt(), rep.path("summary").asText());
            assertEquals(6, rep.path("tensors").asInt(), "one ces per layer trains, nothing else");
            EvalOptions eo = EvalOptions.of(List.of(CeFixtures.shared().resolve("data/python.test.txt"))).withWindows(64, 8).withReference(src);
            EvalResult before = Evaluator.evaluate(tmp.resolve("ones"), eo, dev.moekit.eval.Progress.NONE);
            EvalResult after = Evaluator.evaluate(tmp.resolve("trained"), eo, dev.moekit.eval.Progress.NONE);
            double klBefore = before.overallKl().mean();
            double klAfter = after.overallKl().mean();
            assertTrue(klAfter < 0.9 * klBefore, "KL to the original: ces at ones " + klBefore + ", trained " + klAfter);
            try (Checkpoint in = Checkpoint.open(src); Checkpoint c = Checkpoint.open(tmp.resolve("trained"))) {
                ModelSpec spec = ModelSpec.of(c);
                assertEquals(List.of(), SpecChecker.check(c, spec));
                for (String n : in.names()) {
                    assertTrue(java.util.Arrays.equals(in.floats(n), c.floats(n)), "only ces trains: " + n + " unchanged");
                }
                float[] ces = c.floats(spec.name(Role.CES, 2));
                boolean moved = false;
                for (float f : ces) {
                    moved |= f != 1f;
                }
                assertTrue(moved, "ces trained");
                assertTrue(Files.exists(tmp.resolve("trained/modeling_moekit_ce.py")));
                assertFalse(Files.exists(tmp.resolve("trained.work")), "work folder removed");
                assertFalse(Files.exists(tmp.resolve("state/student")), "the student kept in state_dir is removed once training ended");
            }
        } finally {
            JniUtils.setNumThreads(threads);
        }
    }
}
