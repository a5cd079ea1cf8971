package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointWriterTest {
    @TempDir
    Path dir;

    private static ObjectNode config() {
        ObjectNode c = Json.PRETTY.createObjectNode();
        c.put("model_type", "test");
        return c;
    }

    @Test
    void roundTripsAcrossShardsWithPaddedHeadersAndIndex() throws IOException {
        List<TensorSpec> plan = new ArrayList<>();
        Random r = new Random(1);
        List<float[]> values = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            plan.add(new TensorSpec("layer." + i + ".weight", i % 2 == 0 ? DType.BF16 : DType.F32, new long[] {3, 5 + i}));
            float[] v = new float[3 * (5 + i)];
            for (int j = 0; j < v.length; j++) {
                v[j] = (float) r.nextGaussian();
            }
            values.add(v);
        }
        Path out = dir.resolve("out");
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withMaxShardSize(100)
                .withMetadata(Map.of("producer", "moekit")))) {
            for (int i = 6; i >= 0; i--) { // any order
                w.write(plan.get(i).name(), values.get(i));
            }
            Files.writeString(dir.resolve("tokenizer.json"), "{}");
            w.copyFile(dir.resolve("tokenizer.json"));
            w.commit(config());
        }
        assertFalse(Files.exists(dir.resolve("out.partial")));
        try (Checkpoint c = Checkpoint.open(out)) {
            assertTrue(c.shards().size() > 2, "several shards at 100 bytes max");
            for (SafetensorsFile s : c.shards()) {
                assertEquals(0, s.dataStart() % 8);
                assertEquals("pt", s.metadata().get("format"));
                assertEquals("moekit", s.metadata().get("producer"));
            }
            assertEquals(c.totalBytes(), c.indexMetadata().get("total_size").asLong());
            for (int i = 0; i < 7; i++) {
                float[] got = c.floats(plan.get(i).name());
                float[] want = values.get(i);
                if (plan.get(i).dtype() == DType.F32) {
                    assertArrayEquals(want, got);
                } else {
                    for (int j = 0; j < want.length; j++) {
                        assertEquals(want[j], got[j], Math.abs(want[j]) / 128);
                    }
                }
            }
            assertEquals("test", c.config().get("model_type").asText());
            assertTrue(Files.exists(out.resolve("tokenizer.json")));
        }
    }

    @Test
    void singleShardIsModelSafetensorsWithoutIndex() {
        Path out = dir.resolve("one");
        try (CheckpointWriter w = CheckpointWriter.create(out, List.of(new TensorSpec("x", DType.F32, new long[] {2})),
                CheckpointWriter.Options.defaults())) {
            w.write("x", new float[] {1, 2});
            w.commit(config());
        }
        assertTrue(Files.exists(out.resolve(Checkpoint.SINGLE)));
        assertFalse(Files.exists(out.resolve(Checkpoint.INDEX)));
    }

    @Test
    void copiesAndConvertsFromAnInput() {
        Path in = Path.of(System.getProperty("moekit.shared", "../shared"), "models", "mixtral-tiny");
        Path out = dir.resolve("copy");
        try (Checkpoint c = Checkpoint.open(in)) {
            String emb = "model.embed_tokens.weight";
            String norm = "model.norm.weight";
            List<TensorSpec> plan = List.of(TensorSpec.of(c.info(emb)), new TensorSpec(norm, DType.F32, c.info(norm).shape()));
            try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults(), in); Arena a = Arena.ofConfined()) {
                w.copy(emb, c.shard(emb), emb);
                w.writeConverted(norm, c.map(norm, a), c.info(norm).dtype());
                w.copyOtherFiles(c);
                w.commit(c.config());
            }
            try (Checkpoint o = Checkpoint.open(out)) {
                assertArrayEquals(c.shard(emb).readBytes(emb), o.shard(emb).readBytes(emb));
                assertArrayEquals(c.floats(norm), o.floats(norm));
                assertEquals(DType.F32, o.info(norm).dtype());
                assertTrue(Files.exists(out.resolve("tokenizer.json")));
                assertTrue(Files.exists(out.resolve("generation_config.json")));
            }
        }
    }

    /**
     * Tensors filled in the writer's pooled native buffers (the packers' path), from several threads at once and in
     * sizes that grow and shrink, land bit for bit at their offsets; a fill that fails leaves the tensor unwritten;
     * {@link Checkpoint#floats(String, float[])} reads them back into a reused buffer and refuses one of another size.
     */
    @Test
    void fillsTensorsInPooledBuffersFromSeveralThreads() throws Exception {
        Path out = dir.resolve("filled");
        List<TensorSpec> plan = new ArrayList<>();
        int[] sizes = {3_000_001, 17, 2_000_000, 2_000_000, 5, 3_000_001};
        for (int i = 0; i < sizes.length; i++) {
            plan.add(new TensorSpec("t" + i, DType.F32, new long[] {sizes[i]}));
        }
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults())) {
            assertThrows(IllegalStateException.class, () -> w.write("t0", dst -> {
                throw new IllegalStateException("packer failed");
            }));
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                int t = i;
                threads.add(Thread.ofPlatform().start(() -> w.write("t" + t, dst -> {
                    for (long k = 0; k < sizes[t]; k++) {
                        dst.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, k, t * 1000f + k % 977);
                    }
                })));
            }
            for (Thread t : threads) {
                t.join();
            }
            w.commit(config());
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            float[] buf = new float[sizes[0]];
            c.floats("t5", buf);
            for (int k = 0; k < buf.length; k++) {
                assertEquals(5000f + k % 977, buf[k], "t5[" + k + "]");
            }
            c.floats("t0", buf); // the same buffer, refilled
            assertEquals(977f - 1, buf[976]);
            float[] small = c.floats("t2");
            assertEquals(2000f + 1999_999 % 977, small[1999_999]);
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.floats("t4", new float[4]));
            assertTrue(e.getMessage().contains("'t4' has 5 elements, the buffer given holds 4"), e.getMessage());
        }
    }

    @Test
    void refusesExistingOutputUnlessReplacing() throws IOException {
        Path out = Files.createDirectories(dir.resolve("exists"));
        Files.writeString(out.resolve("keep.txt"), "precious");
        List<TensorSpec> plan = List.of(new TensorSpec("x", DType.F32, new long[] {1}));
        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults()));
        assertTrue(e.getMessage().contains("already exists") && e.getMessage().contains("--replace"), e.getMessage());
        assertTrue(Files.exists(out.resolve("keep.txt")));
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withReplace(true))) {
            w.write("x", new float[] {1});
            assertTrue(Files.exists(out.resolve("keep.txt")), "old output untouched until commit");
            w.commit(config());
        }
        assertFalse(Files.exists(out.resolve("keep.txt")));
        assertTrue(Files.exists(out.resolve(Checkpoint.SINGLE)));
    }

    @Test
    void refusesOutputInsideInput() throws IOException {
        Path in = Files.createDirectories(dir.resolve("in"));
        List<TensorSpec> plan = List.of(new TensorSpec("x", DType.F32, new long[] {1}));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CheckpointWriter.create(in.resolve("sub/out"), plan, CheckpointWriter.Options.defaults(), in));
        assertTrue(e.getMessage().contains("inside the input"), e.getMessage());
        assertThrows(CheckpointException.class, () -> CheckpointWriter.create(in, plan, CheckpointWriter.Options.defaults().withReplace(true), in));
        assertThrows(CheckpointException.class, () -> CheckpointWriter.create(dir, plan, CheckpointWriter.Options.defaults().withReplace(true), in));
        assertFalse(Files.exists(in.resolve("sub")));
    }

    @Test
    void abandonedOrIncompleteOutputLeavesNothing() {
        Path out = dir.resolve("half");
        List<TensorSpec> plan = List.of(new TensorSpec("x", DType.F32, new long[] {1}), new TensorSpec("y", DType.F32, new long[] {1}));
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults())) {
            w.write("x", new float[] {1});
            CheckpointException e = assertThrows(CheckpointException.class, () -> w.commit(config()));
            assertTrue(e.getMessage().contains("'y'"), e.getMessage());
            assertThrows(CheckpointException.class, () -> w.write("x", new float[] {1}));
            assertThrows(CheckpointException.class, () -> w.write("zz", new float[] {1}));
        }
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("half.partial")));
    }

    @org.junit.jupiter.api.Test
    void shardFilesIncludingTheirHeadersStayWithinTheLimit() throws Exception {
        java.nio.file.Path tiny = dev.moekit.toolkit.testing.TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        long limit;
        try (Checkpoint c = Checkpoint.open(tiny)) {
            limit = c.totalBytes() / 6; // small enough that headers are a real share of each shard
        }
        java.nio.file.Path out = dir.resolve("resharded");
        dev.moekit.toolkit.transform.Convert.run(tiny, out, new dev.moekit.toolkit.transform.Convert.Options(null,
                CheckpointWriter.Options.defaults().withMaxShardSize(limit), 1));
        try (Checkpoint c = Checkpoint.open(out)) {
            org.junit.jupiter.api.Assertions.assertTrue(c.shards().size() > 2);
            for (SafetensorsFile s : c.shards()) {
                boolean single = s.tensors().size() == 1;
                org.junit.jupiter.api.Assertions.assertTrue(single || s.fileSize() <= limit, s.path() + " is " + s.fileSize() + " bytes");
            }
        }
    }

    @org.junit.jupiter.api.Test
    void copiedFilesAreWritableEvenWhenTheInputsAreNot() throws Exception {
        java.nio.file.Path tiny = dev.moekit.toolkit.testing.TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        java.nio.file.Path tok = tiny.resolve("tokenizer_config.json");
        if (!java.nio.file.Files.exists(tok)) {
            java.nio.file.Files.writeString(tok, "{}");
        }
        java.nio.file.Files.setPosixFilePermissions(tok, java.nio.file.attribute.PosixFilePermissions.fromString("r--r--r--"));
        java.nio.file.Path out = dir.resolve("copy");
        dev.moekit.toolkit.transform.Convert.run(tiny, out, new dev.moekit.toolkit.transform.Convert.Options(null, CheckpointWriter.Options.defaults(), 1));
        org.junit.jupiter.api.Assertions.assertEquals("rw-r--r--",
                java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(out.resolve("tokenizer_config.json"))));
    }

    @org.junit.jupiter.api.Test
    void ioFailuresSayWhy() {
        String m = CheckpointWriter.cause(new java.nio.file.FileSystemException("/out/model.safetensors", null, "No space left on device"));
        org.junit.jupiter.api.Assertions.assertEquals("No space left on device: /out/model.safetensors", m);
        org.junit.jupiter.api.Assertions.assertEquals("EOFException", CheckpointWriter.cause(new java.io.EOFException()));
    }
}
