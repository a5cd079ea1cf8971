package dev.moekit.recipes.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code moekit compress-experts}: a one-stage recipe with its parameters checked before any work. */
class CompressExpertsCommandTest {
    @TempDir
    Path dir;

    @Test
    void writesACompressedExpertsCheckpointAndRefusesAMainOfTopK() throws Exception {
        Path out = dir.resolve("ce");
        CliTest.Run bad = CliTest.run("compress-experts", CliTest.MIXTRAL.toString(), out.toString(), "--main", "2");
        assertEquals(1, bad.code(), bad.err());   // the parameter does not fit this model (a usage error would be 2)
        assertTrue(bad.err().contains("main 2 must be below the top-k 2"), bad.err());
        assertFalse(Files.exists(out));
        assertEquals(2, CliTest.run("compress-experts", CliTest.MIXTRAL.toString(), out.toString()).code(), "--main is required");
        CliTest.Run r = CliTest.run("compress-experts", CliTest.MIXTRAL.toString(), out.toString(), "--main", "1");
        assertEquals(0, r.code(), r.err());
        JsonNode cfg = Json.STRICT.readTree(out.resolve("config.json").toFile());
        assertTrue(cfg.path("use_ce").asBoolean());
        assertEquals(1, cfg.path("n_ce").asInt());
        assertEquals(2, cfg.path("num_experts_per_tok").asInt());
        assertEquals("split", cfg.path("ce_layout").asText());
        assertTrue(Files.exists(out.resolve("modeling_moekit_ce.py")));
        CliTest.Run v = CliTest.run("verify", out.toString());
        assertEquals(0, v.code(), v.out() + v.err());
    }
}
