package dev.moekit.recipes.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The upcycle and btx commands: one-stage recipes on the reference seed and its specialists. */
class UpcycleCliTest {
    static final Path MODELS = CliTest.SHARED.resolve("models").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @Test
    void upcycleAndBtxWriteMixturesOfTheSeed() {
        Path up = dir.resolve("up");
        CliTest.Run r = CliTest.run("upcycle", MODELS.resolve("llama-tiny-seed").toString(), up.toString(), "--experts", "4", "--top-k", "1");
        assertEquals(0, r.code(), r.err());
        try (Checkpoint c = Checkpoint.open(up)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("mixtral", s.family().name());
            assertEquals(4, s.layer(5).experts());
            assertEquals(1, s.layer(5).topK());
        }
        Path btx = dir.resolve("btx");
        r = CliTest.run("btx", MODELS.resolve("llama-tiny-seed").toString(), btx.toString(), "--experts",
                MODELS.resolve("llama-tiny-python") + "," + MODELS.resolve("llama-tiny-dict"), "--no-seed");
        assertEquals(0, r.code(), r.err());
        try (Checkpoint c = Checkpoint.open(btx)) {
            assertEquals(2, ModelSpec.of(c).layer(0).experts());
            assertTrue(c.has("model.layers.0.block_sparse_moe.experts.1.w2.weight"));
        }
    }

    @Test
    void wrongValuesAreUsageErrorsAndWriteNothing() {
        Path out = dir.resolve("x");
        CliTest.Run r = CliTest.run("upcycle", MODELS.resolve("llama-tiny-seed").toString(), out.toString(), "--layers", "some");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("layers"), r.err());
        r = CliTest.run("btx", MODELS.resolve("llama-tiny-seed").toString(), out.toString(), "--experts", MODELS.resolve("mixtral-tiny").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("mixtral-tiny"), r.err());
        assertFalse(Files.exists(out));
    }
}
