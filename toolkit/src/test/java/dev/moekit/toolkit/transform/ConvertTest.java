package dev.moekit.toolkit.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.tensor.Floats;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConvertTest {
    static final Path MIXTRAL = Path.of(System.getProperty("moekit.shared", "../shared"), "models", "mixtral-tiny");

    @TempDir
    Path dir;

    @Test
    void parallelCopyIsByteIdenticalAndReshards() {
        Path out = dir.resolve("copy");
        Convert.Result r = Convert.run(MIXTRAL, out, new Convert.Options(null,
                CheckpointWriter.Options.defaults().withMaxShardSize(3_000_000), 4));
        assertEquals(0, r.converted());
        try (Checkpoint in = Checkpoint.open(MIXTRAL); Checkpoint o = Checkpoint.open(out)) {
            assertTrue(o.shards().size() > 10, "3 MB shards");
            assertEquals(in.names().size(), o.names().size());
            for (String n : in.names()) {
                assertArrayEquals(in.shard(n).readBytes(n), o.shard(n).readBytes(n), n);
            }
            assertEquals(in.config(), o.config());
        }
        assertTrue(Files.exists(out.resolve("tokenizer.json")));
    }

    @Test
    void toFp32AndBackIsLossless() {
        Path f32 = dir.resolve("f32");
        Path back = dir.resolve("back");
        Convert.run(MIXTRAL, f32, new Convert.Options(DType.F32, CheckpointWriter.Options.defaults(), 2));
        Convert.run(f32, back, new Convert.Options(DType.BF16, CheckpointWriter.Options.defaults(), 2));
        try (Checkpoint in = Checkpoint.open(MIXTRAL); Checkpoint a = Checkpoint.open(f32); Checkpoint b = Checkpoint.open(back)) {
            assertEquals("float32", a.config().get("dtype").asText());
            assertEquals("bfloat16", b.config().get("dtype").asText());
            for (String n : in.names()) {
                assertEquals(DType.F32, a.info(n).dtype());
                assertArrayEquals(in.shard(n).readBytes(n), b.shard(n).readBytes(n), n);
            }
            String n = "model.norm.weight";
            float[] x = in.floats(n);
            assertEquals(Floats.bf16ToFloat(Floats.floatToBf16(x[3])), a.floats(n)[3]);
        }
    }
}
