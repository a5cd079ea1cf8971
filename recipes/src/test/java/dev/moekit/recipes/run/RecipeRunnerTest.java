package dev.moekit.recipes.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Stage;
import dev.moekit.toolkit.method.StageContext;
import dev.moekit.toolkit.method.StageProvider;
import dev.moekit.toolkit.method.Stages;
import dev.moekit.toolkit.transform.ConvertStage;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeRunnerTest {
    @TempDir
    Path dir;

    private Path recipe(String yaml) throws Exception {
        Path p = dir.resolve("r.yaml");
        Files.writeString(p, yaml);
        return p;
    }

    @Test
    void runsStagesInOrderAndWritesProvenance() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "qwen2_moe");
        Path out = dir.resolve("out");
        Recipe r = Recipe.read(recipe("model: " + tiny + "\noutput: " + out + "\nstages:\n  - convert: {dtype: fp32}\n  - convert: {dtype: fp16, max_shard_bytes: 4096}\n"));
        List<String> log = new ArrayList<>();
        RecipeRunner.Result res = new RecipeRunner(Stages.load(), null, log::add).run(r);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertTrue(c.names().stream().allMatch(n -> c.info(n).dtype() == DType.F16));
            assertTrue(c.shards().size() > 1);
        }
        JsonNode prov = Json.STRICT.readTree(out.resolve(RecipeRunner.PROVENANCE).toFile());
        assertEquals(2, prov.get("stages").size());
        assertEquals(64, prov.get("input_fingerprint").asText().length());
        assertEquals(res.provenance().get("input_fingerprint"), prov.get("input_fingerprint"));
        assertFalse(Files.exists(dir.resolve("out.work")));
        assertEquals(4, log.stream().filter(s -> s.startsWith("stage")).count(), log.toString());
    }

    /** A stage that copies its input and fails the first {@code failures} times it runs. */
    static final class Flaky implements StageProvider {
        int failures;
        int runs;

        Flaky(int failures) {
            this.failures = failures;
        }

        @Override
        public String name() {
            return "flaky";
        }

        @Override
        public String summary() {
            return "test";
        }

        @Override
        public Class<? extends Record> parameters() {
            return ConvertStage.Parameters.class;
        }

        @Override
        public Stage create(JsonNode params) {
            Stage convert = new ConvertStage().create(params);
            return new Stage() {
                @Override
                public String name() {
                    return "flaky";
                }

                @Override
                public JsonNode apply(Path in, Path out, StageContext ctx) throws Exception {
                    runs++;
                    if (failures-- > 0) {
                        throw new IllegalStateException("interrupted");
                    }
                    return convert.apply(in, out, ctx);
                }
            };
        }
    }

    @Test
    void resumesAfterAFailedStageReusingFinishedOnes() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path out = dir.resolve("out");
        Recipe r = Recipe.read(recipe("model: " + tiny + "\noutput: " + out + "\nstages:\n  - convert: {dtype: fp32}\n  - flaky: {dtype: fp16}\n"));
        Flaky flaky = new Flaky(1);
        Stages reg = Stages.of(new ConvertStage(), flaky);
        assertThrows(IllegalStateException.class, () -> new RecipeRunner(reg, null, s -> { }).run(r));
        assertFalse(Files.exists(out), "no output after a failure");
        assertTrue(Files.exists(dir.resolve("out.work/01-convert/" + RecipeRunner.STAGE_MARKER)));
        List<String> log = new ArrayList<>();
        new RecipeRunner(reg, null, log::add).run(r);
        assertTrue(log.stream().anyMatch(s -> s.contains("stage 1/2 convert: reusing")), log.toString());
        assertEquals(2, flaky.runs);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertTrue(c.names().stream().allMatch(n -> c.info(n).dtype() == DType.F16));
        }
        // a changed recipe does not reuse: different parameters, different key
        Recipe changed = Recipe.read(recipe("model: " + tiny + "\noutput: " + out + "\nreplace: true\nstages:\n  - convert: {dtype: bf16}\n  - flaky: {dtype: fp16}\n"));
        flaky.failures = 1;
        assertThrows(IllegalStateException.class, () -> new RecipeRunner(reg, null, s -> { }).run(changed));
        assertTrue(Files.exists(out), "a failed replace leaves the previous output in place");
    }

    @Test
    void rejectsUnknownKeysAndBadParameters() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        IllegalArgumentException top = assertThrows(IllegalArgumentException.class,
                () -> Recipe.read(recipe("model: " + tiny + "\noutput: x\nstagez: []\n")));
        assertTrue(top.getMessage().contains("stagez"), top.getMessage());
        Recipe r = Recipe.read(recipe("model: " + tiny + "\noutput: " + dir.resolve("o") + "\nstages:\n  - convert: {dtyp: fp32}\n"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RecipeRunner(Stages.load(), null, s -> { }).run(r));
        assertTrue(e.getMessage().contains("dtyp") && e.getMessage().contains("known: dtype"), e.getMessage());
        Recipe bad = Recipe.read(recipe("model: " + tiny + "\noutput: " + dir.resolve("o") + "\nstages:\n  - convert: {dtype: int3}\n"));
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> new RecipeRunner(Stages.load(), null, s -> { }).run(bad));
        assertTrue(b.getMessage().contains("int3"), b.getMessage());
        IllegalArgumentException cal = assertThrows(IllegalArgumentException.class,
                () -> Recipe.read(recipe("model: " + tiny + "\noutput: x\ncalibration: {windowz: 3}\nstages: [convert]\n")));
        assertTrue(cal.getMessage().contains("windowz"), cal.getMessage());
    }

    @Test
    void chainsExpertPruningAndQuantization() throws Exception {
        Path tiny = TinyCheckpoints.builder("qwen2_moe").write(dir.resolve("tiny"));
        Path out = dir.resolve("out");
        Recipe r = Recipe.read(recipe("model: " + tiny + "\noutput: " + out + "\nstages:\n"
                + "  - prune: {method: stun, experts: 0.25}\n"
                + "  - quantize: {bits: 4, group_size: 16, rules: [{targets: ['kind:attention'], bits: 8}]}\n"));
        RecipeRunner.Result res = new RecipeRunner(Stages.load(), null, s -> { }).run(r);
        JsonNode prov = res.provenance();
        assertEquals("prune", prov.get("stages").get(0).get("stage").asText());
        assertEquals("quantize", prov.get("stages").get(1).get("stage").asText());
        try (Checkpoint c = Checkpoint.open(out)) {
            JsonNode cfg = c.config();
            assertEquals(6, cfg.get("num_experts").asInt(), "8 experts, 25% removed");
            assertEquals("compressed-tensors", cfg.get("quantization_config").get("quant_method").asText());
            assertTrue(c.names().stream().anyMatch(n -> n.endsWith("weight_packed")));
            assertTrue(c.names().stream().anyMatch(n -> n.endsWith("mlp.gate.weight")), "routers stay unquantized");
        }
        try (dev.moekit.quantize.QuantizedCheckpoint q = dev.moekit.quantize.QuantizedCheckpoint.open(out)) {
            assertTrue(q.modules().values().stream().anyMatch(s -> s.bits() == 8));
            assertTrue(q.modules().values().stream().anyMatch(s -> s.bits() == 4));
        }
        Path plain = dir.resolve("plain");
        dev.moekit.quantize.Dequantize.run(out, plain, DType.F32, dev.moekit.toolkit.io.CheckpointWriter.Options.defaults());
        try (Checkpoint p = Checkpoint.open(plain)) {
            assertTrue(dev.moekit.toolkit.model.SpecChecker.checkAll(p, dev.moekit.toolkit.model.ModelSpec.of(p)).isEmpty());
            assertTrue(!p.config().has("quantization_config"));
        }
    }
}
