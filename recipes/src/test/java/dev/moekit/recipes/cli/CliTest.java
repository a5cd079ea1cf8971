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
        assertEquals(1, badDtype.code());
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
        assertEquals(2, run("prune", tiny.toString(), dir.resolve("x").toString(), "--experts", "0.25", "--sparsity", "0.4").code());
        Run badMethod = run("prune", tiny.toString(), dir.resolve("x").toString(), "--method", "magic", "--experts", "0.25");
        assertEquals(1, badMethod.code());
        assertTrue(badMethod.err().contains("magic"), badMethod.err());
        assertFalse(Files.exists(dir.resolve("x")));
    }
}
