package dev.moekit.recipes.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {
    static final Path SHARED = Path.of(System.getProperty("moekit.shared", "../shared"));
    static final Path MIXTRAL = SHARED.resolve("models/mixtral-tiny");

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = new Main(Commands.all()).run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpListsEveryCommandAndEachHasHelp() {
        Run r = run("--help");
        assertEquals(0, r.code());
        for (Command c : Commands.all()) {
            assertTrue(r.out().contains(c.name()), c.name());
            Run h = run(c.name(), "--help");
            assertEquals(0, h.code(), c.name());
            assertTrue(h.out().contains("usage: moekit " + c.name()), h.out());
        }
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run().code());
    }

    @Test
    void inspectReportsTheReferenceMixtral() throws IOException {
        Run r = run("inspect", MIXTRAL.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.STRICT.readTree(r.out());
        assertEquals(24_263_936L, j.get("parameters").asLong());
        assertEquals(6, j.get("layers").asInt());
        assertEquals("mixtral", j.get("family").asText());
        for (JsonNode l : j.get("per_layer")) {
            assertEquals(8, l.get("experts").asInt());
            assertEquals(2, l.get("top_k").asInt());
        }
        assertEquals(5, j.get("shards").size());
        // active: everything but 6 of the 8 experts in each of the 6 layers
        long expert = 3L * 256 * 512;
        assertEquals(24_263_936L - 6 * 6 * expert, j.get("active_parameters").asLong());
        Run table = run("inspect", MIXTRAL.toString());
        assertTrue(table.out().contains("24,263,936 total"), table.out());
    }

    @Test
    void verifyIsCleanOnReferenceAndFailsOnNaN() throws IOException {
        assertEquals(0, run("verify", MIXTRAL.toString()).code());
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        assertEquals(0, run("verify", tiny.toString()).code());
        String victim;
        long offset;
        Path shard;
        try (Checkpoint c = Checkpoint.open(tiny)) {
            victim = c.names().get(c.names().size() / 2);
            shard = c.shard(victim).path();
            offset = c.shard(victim).dataStart() + c.info(victim).begin();
        }
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            f.seek(offset);
            f.write(new byte[] {(byte) 0xc0, 0x7f}); // bf16 NaN, little-endian
        }
        Run r = run("verify", tiny.toString());
        assertEquals(1, r.code());
        assertTrue(r.out().contains(victim) && r.out().contains("NaN"), r.out());
    }

    @Test
    void convertBadInputsExitNonZeroAndWriteNothing() throws IOException {
        Path out = dir.resolve("out");
        Run missing = run("convert", dir.resolve("nope").toString(), out.toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("nope"), missing.err());
        Run inside = run("convert", MIXTRAL.toString(), MIXTRAL.resolve("x").toString());
        assertEquals(1, inside.code());
        assertTrue(inside.err().contains("inside the input"), inside.err());
        Run usage = run("convert", MIXTRAL.toString());
        assertEquals(2, usage.code());
        Run badDtype = run("convert", MIXTRAL.toString(), out.toString(), "--dtype", "int4");
        assertEquals(2, badDtype.code(), "a wrong option value is a usage error");
        assertTrue(badDtype.err().contains("int4"), badDtype.err());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("out.partial")));
    }

    @Test
    void unknownArchitectureAndMissingConfigKeyAreNamed() throws IOException {
        Path tiny = TinyCheckpoints.write(dir.resolve("t"), "mixtral");
        Path cfg = tiny.resolve("config.json");
        String text = Files.readString(cfg);
        Files.writeString(cfg, text.replace("MixtralForCausalLM", "GrokForCausalLM").replace("\"mixtral\"", "\"grok\""));
        Run r = run("inspect", tiny.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("GrokForCausalLM"), r.err());
        Files.writeString(cfg, text.replace("\"num_hidden_layers\"", "\"n_layers_renamed\""));
        Run k = run("inspect", tiny.toString());
        assertEquals(1, k.code());
        assertTrue(k.err().contains("config.json") && k.err().contains("num_hidden_layers"), k.err());
    }

    @Test
    void convertWritesALoadableCopy() {
        Path out = dir.resolve("fp16");
        Run r = run("convert", MIXTRAL.toString(), out.toString(), "--dtype", "fp16", "--max-shard-size", "10MB");
        assertEquals(0, r.code(), r.err());
        assertEquals(0, run("verify", out.toString()).code());
        Run again = run("convert", MIXTRAL.toString(), out.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already exists"), again.err());
        assertEquals(0, run("convert", MIXTRAL.toString(), out.toString(), "--replace").code());
    }

    @Test
    void pruneAndQuantizeCommandsWriteValidOutputs() throws IOException {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path pruned = dir.resolve("pruned");
        Run p = run("prune", tiny.toString(), pruned.toString(), "--method", "random", "--experts", "0.5", "--seed", "3");
        assertEquals(0, p.code(), p.err());
        JsonNode j = Json.STRICT.readTree(run("inspect", pruned.toString(), "--json").out());
        for (JsonNode l : j.get("per_layer")) {
            assertEquals(4, l.get("experts").asInt());
        }
        assertEquals(0, run("verify", pruned.toString()).code());
        Path quant = dir.resolve("quant");
        Run q = run("quantize", pruned.toString(), quant.toString(), "--bits", "4", "--group-size", "16", "--rule", "kind:attention=8");
        assertEquals(0, q.code(), q.err());
        try (Checkpoint c = Checkpoint.open(quant)) {
            assertTrue(c.names().stream().anyMatch(n -> n.endsWith(".weight_packed")));
            assertTrue(c.config().has("quantization_config"));
        }
        assertTrue(Files.exists(quant.resolve("moekit_provenance.json")));
        // verify and inspect understand moekit's own packed outputs
        Run v = run("verify", quant.toString());
        assertEquals(0, v.code(), v.out() + v.err());
        assertTrue(v.out().contains("packed compressed-tensors"), v.out());
        JsonNode qi = Json.STRICT.readTree(run("inspect", quant.toString(), "--json").out());
        assertEquals("compressed-tensors", qi.get("packed_format").asText());
        assertEquals(4, qi.get("per_layer").get(0).get("experts").asInt());
        assertTrue(qi.get("bytes").asLong() < qi.get("logical_bytes").asLong(), "packed is smaller than what it stands for");
        Path gptq = dir.resolve("gptq-format");
        assertEquals(0, run("quantize", pruned.toString(), gptq.toString(), "--format", "gptq", "--bits", "4", "--group-size", "16").code());
        assertEquals(0, run("verify", gptq.toString()).code());
        assertTrue(q.out().contains("bits"), "quantize prints its summary: " + q.out());
        assertEquals(2, run("prune", tiny.toString(), dir.resolve("x").toString(), "--experts", "0.25", "--sparsity", "0.4").code());
        Run badMethod = run("prune", tiny.toString(), dir.resolve("x").toString(), "--method", "magic", "--experts", "0.25");
        assertEquals(2, badMethod.code());
        assertTrue(badMethod.err().contains("magic"), badMethod.err());
        assertFalse(Files.exists(dir.resolve("x")));
    }

    @Test
    void wrongOptionValuesAreUsageErrorsNamingTheOption() {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        String out = dir.resolve("x").toString();
        Run bits = run("quantize", tiny.toString(), out, "--bits", "9");
        assertEquals(2, bits.code(), bits.err());
        assertTrue(bits.err().contains("9"), bits.err());
        Run gptqFive = run("quantize", tiny.toString(), out, "--format", "gptq", "--bits", "5");
        assertEquals(2, gptqFive.code(), gptqFive.err());
        assertTrue(gptqFive.err().contains("gptq format stores 2, 3, 4 or 8"), gptqFive.err());
        Run where = run("quantize", tiny.toString(), out, "--method", "gptq", "--gptq-device", "gpu");
        assertEquals(2, where.code(), where.err());
        assertTrue(where.err().contains("gptq_device") && where.err().contains("auto, host, runtime"), where.err());
        Run stunn = run("prune", tiny.toString(), out, "--method", "stunn", "--experts", "0.25");
        assertEquals(2, stunn.code(), stunn.err());
        assertTrue(stunn.err().contains("did you mean 'stun'"), stunn.err());
        Run ratio = run("prune", tiny.toString(), out, "--experts", "25");
        assertEquals(2, ratio.code(), ratio.err());
        Run threads = run("convert", tiny.toString(), out, "--threads", "abc");
        assertEquals(2, threads.code(), threads.err());
        assertTrue(threads.err().contains("--threads needs an integer, got 'abc'"), threads.err());
        Run gpu = run("eval", tiny.toString(), "--device", "gpu:7", "--windows", "1");
        assertEquals(1, gpu.code(), gpu.err());
        assertTrue(gpu.err().contains("device gpu:7 is not available") && gpu.err().lines().count() == 1, gpu.err());
        assertFalse(Files.exists(dir.resolve("x")));
    }

    @Test
    void slimPlansTheSlimmedShapesAndRefusesBadValues() {
        Path out = dir.resolve("slim");
        Run r = run("slim", MIXTRAL.toString(), out.toString(), "--expert-ffn", "0.25", "--kv-groups", "3", "--stages", "2",
                "--distill-tokens", "4096", "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("slim (calibrates)"), r.out());
        Run groups = run("slim", MIXTRAL.toString(), out.toString(), "--kv-groups", "9", "--dry-run");
        assertTrue(groups.code() != 0 && groups.err().contains("kv_groups"), groups.err());
        Run tokens = run("slim", MIXTRAL.toString(), out.toString(), "--stage-tokens", "1,x");
        assertEquals(2, tokens.code(), tokens.err());
        assertTrue(tokens.err().contains("--stage-tokens"), tokens.err());
        Run sum = run("slim", MIXTRAL.toString(), out.toString(), "--stages", "2", "--stage-tokens", "1,2", "--distill-tokens", "5");
        assertTrue(sum.code() != 0 && sum.err().contains("stage_tokens"), sum.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void dryRunOfTheMainJobPrintsThePlanAndWritesNothing() throws IOException {
        Path recipe = Path.of("examples/mixtral-tiny-stun.yaml").toAbsolutePath();
        Path out = dir.resolve("dry");
        Run r = run("run", recipe.toString(), "--dry-run", "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("stage 1/2 prune") && r.out().contains("stage 2/2 sparsify (calibrates)"), r.out());
        assertTrue(r.out().contains("unit"), r.out());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("dry.work")));
        Run j = run("run", recipe.toString(), "--dry-run", "--json", "--output", out.toString());
        JsonNode plan = Json.STRICT.readTree(j.out());
        assertEquals(2, plan.get("stages").size());
        assertTrue(plan.get("calibration").size() >= 1, "the calibration files are resolved and hashed");
    }

    @Test
    void methodsListsEveryKindWithParameters() throws IOException {
        Run r = run("methods", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.STRICT.readTree(r.out());
        java.util.function.Function<String, java.util.Set<String>> names = kind -> {
            java.util.Set<String> s = new java.util.TreeSet<>();
            j.path(kind).path("methods").forEach(m -> s.add(m.path("name").asText()));
            return s;
        };
        assertTrue(names.apply("expert-pruner").containsAll(java.util.List.of("stun", "frequency", "weighted_frequency", "ean", "reap", "naee", "random")));
        assertTrue(names.apply("sparsifier").containsAll(java.util.List.of("wanda", "owl")));
        assertTrue(names.apply("weight-quantizer").containsAll(java.util.List.of("rtn", "gptq")));
        assertTrue(names.apply("format").containsAll(java.util.List.of("compressed-tensors", "gptq", "fake-quant")));
        assertTrue(names.apply("stage").containsAll(java.util.List.of("prune", "sparsify", "quantize", "convert")));
        JsonNode stun = null;
        for (JsonNode m : j.path("expert-pruner").path("methods")) {
            if (m.path("name").asText().equals("stun")) {
                stun = m;
            }
        }
        assertTrue(stun.path("reference").asText().contains("2409.06211"));
        assertEquals("depends", stun.path("calibration").asText());
        assertTrue(stun.path("parameters").size() >= 3, stun.toString());
        Run text = run("methods");
        assertTrue(text.out().contains("expert-pruner:") && text.out().contains("stun"), text.out());
    }

    @Test
    void twoPruneStagesInARowAndPruningAPrunedCheckpoint() throws IOException {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path recipe = dir.resolve("r.yaml");
        Files.writeString(recipe, "model: tiny\noutput: twice\nstages:\n  - prune: {method: random, experts: 0.25}\n  - prune: {method: random, experts: 0.34}\n");
        Run r = run("run", recipe.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode prov = Json.STRICT.readTree(dir.resolve("twice/moekit_provenance.json").toFile());
        assertEquals(2, prov.get("stages").size());
        assertEquals("prune", prov.get("stages").get(1).get("stage").asText());
        JsonNode j = Json.STRICT.readTree(run("inspect", dir.resolve("twice").toString(), "--json").out());
        assertEquals(4, j.get("per_layer").get(0).get("experts").asInt(), "8 -> 6 -> 4");
        Run again = run("prune", dir.resolve("twice").toString(), dir.resolve("thrice").toString(), "--method", "random", "--experts", "0.5");
        assertEquals(0, again.code(), again.err());
    }

    @Test
    void aMisspelledRecipeKeyIsNamedWithTheClosestKey() throws IOException {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path recipe = dir.resolve("r.yaml");
        Files.writeString(recipe, "model: tiny\noutput: o\nstages:\n  - prune: {method: stun, expert: 0.25}\n");
        Run r = run("run", recipe.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("unknown key 'expert' (did you mean 'experts'?)"), r.err());
        Files.writeString(recipe, "model: tiny\noutput: o\nstages:\n  - sparsify: {method: owl, total_sparsty: 0.4}\n");
        Run s = run("run", recipe.toString());
        assertTrue(s.err().contains("unknown key 'total_sparsty' (did you mean 'total_sparsity'?)"), s.err());
    }

    @Test
    void evalOfACheckpointWithANaNWeightFails() throws IOException {
        Path tiny = dir.resolve("tiny");
        Files.createDirectories(tiny);
        try (var fs = Files.list(MIXTRAL)) {
            for (Path f : fs.filter(Files::isRegularFile).toList()) {
                Files.copy(f, tiny.resolve(f.getFileName()));
            }
        }
        String victim = "model.embed_tokens.weight";
        long offset;
        Path shard;
        try (Checkpoint c = Checkpoint.open(tiny)) {
            shard = c.shard(victim).path();
            offset = c.shard(victim).dataStart() + c.info(victim).begin();
        }
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            f.seek(offset);
            for (int i = 0; i < 4096; i++) {
                f.write(new byte[] {(byte) 0xc0, 0x7f});
            }
        }
        Run r = run("eval", tiny.toString(), "--windows", "1");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.err().contains("NaN"), r.err());
        Run p = run("prune", tiny.toString(), dir.resolve("p").toString(), "--method", "random", "--experts", "0.25");
        assertEquals(1, p.code());
        assertTrue(p.err().contains(victim) && p.err().contains("NaN"), p.err());
        assertFalse(Files.exists(dir.resolve("p")));
    }

    @Test
    void controlCharactersInMessagesAreEscaped() {
        Run r = run("inspect", dir.resolve("no\u001b[31mpe").toString());
        assertEquals(1, r.code());
        assertFalse(r.err().contains("\u001b"), r.err());
        assertTrue(r.err().contains("\\u001b"), r.err());
    }
}
