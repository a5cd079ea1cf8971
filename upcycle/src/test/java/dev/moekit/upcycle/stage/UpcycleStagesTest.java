package dev.moekit.upcycle.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.DomainResult;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.upcycle.Refs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The upcycle and btx stages through the recipe runner: validation before work, assembly, router training. */
class UpcycleStagesTest {
    private static int threads;

    @BeforeAll
    static void one() {
        threads = Refs.oneThread();
    }

    @AfterAll
    static void back() {
        Refs.threads(threads);
    }

    private static Recipe recipe(Path out, String stage, ObjectNode params) {
        return new Recipe(Refs.seed(), out, false, 5, "cpu",
                new CalibrationSettings(Refs.validSplits().stream().map(Path::toString).toList(), 4, 64, false),
                List.of(new StageEntry(stage, params)), null);
    }

    private static ObjectNode btx(long tokens) {
        ObjectNode p = Json.PRETTY.createObjectNode();
        var list = p.putArray("experts");
        Refs.specialists().forEach(s -> list.add(s.toString()));
        p.put("include_seed", true);
        p.put("train_tokens", tokens);
        p.put("train", "routers");
        p.put("batch_size", 4);
        p.put("window", 64);
        p.put("windows_per_file", 16);
        p.put("lr", 1e-2);
        return p;
    }

    private static double meanNll(Path model) {
        return Refs.eval(model, 2).domains().stream().mapToDouble(DomainResult::nll).average().orElseThrow();
    }

    @Test
    void btxTrainingTheRoutersLowersTheLossOfTheAssembledMixtral(@TempDir Path tmp) throws Exception {
        Pipeline.Result assembled = Pipeline.standard(Events.NONE).run(recipe(tmp.resolve("btx0"), "btx", btx(0)));
        List<String> lines = new java.util.ArrayList<>();
        Pipeline.Result trained = Pipeline.standard(Events.of(lines::add)).run(recipe(tmp.resolve("btx1"), "btx", btx(24 * 4 * 64)));
        JsonNode report = trained.provenance().path("stages").get(0).path("report");
        assertTrue(report.path("trained").asBoolean(), report.toString());
        assertEquals(24, report.path("training").path("steps").asInt(), report.toString());
        try (Checkpoint a = Checkpoint.open(assembled.output()); Checkpoint b = Checkpoint.open(trained.output())) {
            assertEquals("MixtralForCausalLM", b.config().path("architectures").get(0).asText());
            assertEquals(5, ModelSpec.of(b).layer(0).experts());
            String attn = "model.layers.1.self_attn.q_proj.weight";
            assertTrue(java.util.Arrays.equals(a.floats(attn), b.floats(attn)), "train: routers leaves attention as assembled");
            String router = "model.layers.1.block_sparse_moe.gate.weight";
            assertFalse(java.util.Arrays.equals(a.floats(router), b.floats(router)), "the routers trained");
        }
        double before = meanNll(assembled.output());
        double after = meanNll(trained.output());
        assertTrue(after < before - 0.02, "mean test NLL before " + before + ", after router training " + after);
        assertFalse(Files.exists(tmp.resolve("btx1.work")), "work folder removed");
    }

    @Test
    void upcycleStageWritesTheAssemblyWithoutCalibratingWhenNotTraining(@TempDir Path tmp) throws Exception {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("experts", 4);
        p.put("top_k", 2);
        p.put("layers", "every_other");
        Pipeline.Result r = Pipeline.standard(Events.NONE).run(recipe(tmp.resolve("up"), "upcycle", p));
        JsonNode plan = r.provenance().path("stages").get(0);
        assertTrue(plan.toString().contains("qwen2_moe"), plan.toString());
        try (Checkpoint c = Checkpoint.open(r.output())) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals(3, s.layerSpecs().stream().filter(l -> l.moe()).count());
        }
    }

    @Test
    void badParametersFailBeforeAnyWork(@TempDir Path tmp) {
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("experts", 2);
        p.put("top_k", 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("a"), "upcycle", p)));
        assertTrue(e.getMessage().contains("top_k"), e.getMessage());
        ObjectNode q = btx(0);
        q.putArray("experts").add(Refs.model("mixtral-tiny").toString());
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("b"), "btx", q)));
        assertTrue(e.getMessage().contains("mixtral-tiny"), e.getMessage());
        ObjectNode m = btx(0);
        m.putArray("experts").add(tmp.resolve("nowhere").toString());
        RuntimeException r = assertThrows(RuntimeException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("c"), "btx", m)));
        assertTrue(r.getMessage().contains("nowhere"), r.getMessage());
        ObjectNode t = btx(1000);
        t.put("train", "routers,bogus");
        e = assertThrows(IllegalArgumentException.class, () -> Pipeline.standard(Events.NONE).prepare(recipe(tmp.resolve("d"), "btx", t)));
        assertTrue(e.getMessage().contains("bogus"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("a")) || Files.exists(tmp.resolve("b")) || Files.exists(tmp.resolve("d")));
    }
}
