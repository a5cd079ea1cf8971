package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    static final Path SHARED = Path.of(System.getProperty("moekit.shared", "../shared"));
    static final Path MIXTRAL = SHARED.resolve("models/mixtral-tiny");

    @TempDir
    Path dir;

    @Test
    void opensShardedReferenceModel() {
        try (Checkpoint c = Checkpoint.open(MIXTRAL)) {
            assertEquals(5, c.shards().size());
            assertEquals(24_263_936L, c.totalParameters());
            assertEquals(c.indexMetadata().get("total_size").asLong(), c.totalBytes());
            assertEquals("mixtral", c.config().get("model_type").asText());
            assertTrue(c.otherFiles().stream().anyMatch(p -> p.getFileName().toString().equals("tokenizer.json")));
            float[] norm = c.floats("model.norm.weight");
            assertEquals(256, norm.length);
        }
    }

    /**
     * A view with computed tensors: the computed one takes the replaced tensors' place in the names, reads (as fp32,
     * into a buffer, converted to another dtype) through its computation; replaced tensors are gone; stored ones read
     * as before; a computed tensor has no stored bytes to map; bad views are refused naming the tensor.
     */
    @Test
    void viewWithComputedTensorsReadsThemAndHidesWhatTheyReplace() {
        String q = "model.layers.0.self_attn.q_proj.weight";
        String k = "model.layers.0.self_attn.k_proj.weight";
        String twice = "model.layers.0.self_attn.qk_twice";
        try (Checkpoint c = Checkpoint.open(MIXTRAL)) {
            float[] qv = c.floats(q);
            long n = qv.length;
            Checkpoint.Computed doubled = new Checkpoint.Computed(new TensorInfo(twice, DType.F32, c.info(q).shape(), 0, 4 * n), (dst, to) -> {
                float[] v = c.floats(q);
                for (int i = 0; i < v.length; i++) {
                    v[i] *= 2;
                }
                dev.moekit.toolkit.tensor.Floats.encode(v, 0, v.length, to, dst, 0);
            });
            Checkpoint v = c.withComputed(java.util.Map.of(twice, doubled), java.util.Map.of(q, twice, k, twice), null);
            assertEquals(c.names().size() - 1, v.names().size());
            assertEquals(Math.min(c.names().indexOf(q), c.names().indexOf(k)), v.names().indexOf(twice), "in the place of the first tensor it replaces");
            assertTrue(!v.has(q) && !v.has(k) && v.has(twice) && v.isComputed(twice) && !v.isComputed("model.norm.weight"));
            float[] got = v.floats(twice);
            for (int i = 0; i < n; i++) {
                assertEquals(2 * qv[i], got[i]);
            }
            java.lang.foreign.MemorySegment half = java.lang.foreign.MemorySegment.ofArray(new short[(int) n]);
            v.read(twice, half, DType.BF16);
            assertEquals(dev.moekit.toolkit.tensor.Floats.floatToBf16(2 * qv[5]), half.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 5));
            org.junit.jupiter.api.Assertions.assertArrayEquals(c.floats("model.norm.weight"), v.floats("model.norm.weight"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> v.map(twice, java.lang.foreign.Arena.global()));
            assertTrue(e.getMessage().contains("'" + twice + "' is computed from packed tensors when read and has no stored bytes"), e.getMessage());
            assertTrue(assertThrows(CheckpointException.class, () -> v.read(twice, half.asSlice(2), DType.BF16)).getMessage().contains("does not fill"));
            assertTrue(assertThrows(CheckpointException.class, () -> c.withComputed(java.util.Map.of(twice, doubled), java.util.Map.of("nope", twice), null))
                    .getMessage().contains("no tensor 'nope' to replace"));
            assertTrue(assertThrows(CheckpointException.class, () -> c.withComputed(java.util.Map.of(q, doubled), java.util.Map.of(), null))
                    .getMessage().contains("would hide a stored one"));
        }
    }

    @Test
    void opensSingleFileModel() {
        try (Checkpoint c = Checkpoint.open(SHARED.resolve("models/llama-tiny-seed"))) {
            assertEquals(1, c.shards().size());
            assertTrue(c.has("model.embed_tokens.weight"));
        }
    }

    private Path twoShardCheckpoint(String weightMap) throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        RawSafetensors.write(dir.resolve("s1.safetensors"), h, new byte[2]);
        String h2 = "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        RawSafetensors.write(dir.resolve("s2.safetensors"), h2, new byte[2]);
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"metadata\":{\"total_size\":4},\"weight_map\":" + weightMap + "}");
        return dir;
    }

    private CheckpointException bad(String weightMap) throws IOException {
        Path d = twoShardCheckpoint(weightMap);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(d).close());
        assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
        return e;
    }

    @Test
    void indexOk() throws IOException {
        try (Checkpoint c = Checkpoint.open(twoShardCheckpoint("{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}"))) {
            assertEquals(2, c.names().size());
        }
    }

    @Test
    void indexNamingMissingShard() throws IOException {
        CheckpointException e = bad("{\"a\":\"s1.safetensors\",\"b\":\"s9.safetensors\"}");
        assertTrue(e.getMessage().contains("s9.safetensors") && e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void shardPathOutsideFolder() throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        CheckpointException e = bad("{\"a\":\"s1.safetensors\",\"b\":\"../x.safetensors\"}");
        assertTrue(e.getMessage().contains("../x.safetensors") && e.getMessage().contains("outside"), e.getMessage());
        CheckpointException abs = bad("{\"a\":\"s1.safetensors\",\"b\":\"" + dir.resolve("s2.safetensors") + "\"}");
        assertTrue(abs.getMessage().contains("outside"), abs.getMessage());
    }

    @Test
    void indexPuttingTensorInWrongShard() throws IOException {
        CheckpointException e = bad("{\"a\":\"s2.safetensors\",\"b\":\"s2.safetensors\"}");
        assertTrue(e.getMessage().contains("'a'"), e.getMessage());
    }

    @Test
    void shardHoldingUnlistedTensor() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}";
        RawSafetensors.write(dir.resolve("s1.safetensors"), h, new byte[3]);
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("'z'"), e.getMessage());
    }

    @Test
    void indexNotJson() throws IOException {
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{weight_map:");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains(Checkpoint.INDEX), e.getMessage());
    }

    @Test
    void missingFolderOrWeights() {
        assertThrows(CheckpointException.class, () -> Checkpoint.open(dir.resolve("nope")));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("no " + Checkpoint.INDEX), e.getMessage());
    }

    @Test
    void missingConfigNamed() throws IOException {
        try (Checkpoint c = Checkpoint.open(twoShardCheckpoint("{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}"))) {
            CheckpointException e = assertThrows(CheckpointException.class, c::config);
            assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        }
    }
}
