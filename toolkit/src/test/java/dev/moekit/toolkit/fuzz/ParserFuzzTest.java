package dev.moekit.toolkit.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ModelWeights;
import dev.moekit.toolkit.model.ParamCount;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the readers of untrusted files: the safetensors header parser, the checkpoint's JSON files (config.json and the
 * index, through {@link ModelSpec} and {@link SpecChecker}), and the tensor entries of a shard inside a checkpoint
 * (shapes and dtypes changed with the offsets kept consistent, so the structure checks behind the header are reached).
 * Inputs are seeded mutations ({@link Mutator}) of mixtral-tiny's and qwen2moe-tiny's files.
 *
 * <p>Every case must end cleanly: success, {@link CheckpointException} or {@link IllegalArgumentException}, with a
 * one-line message; nothing else (no NPE, ArithmeticException, OutOfMemoryError, index errors...), within
 * {@code moekit.fuzz.caseSeconds} (default 10 s) and allocating at most {@link #ALLOC_LIMIT} bytes on its thread.
 *
 * <p>Time-bound: {@code -Dmoekit.fuzz.seconds=600} (default 20, split over the three targets), seed
 * {@code -Dmoekit.fuzz.seed=N}; a failure prints the seed, target and case, and saves the input under
 * {@code target/fuzz-failures/}. Case {@code i} of a seed is always the same input.
 */
class ParserFuzzTest {
    static final long SEED = Long.getLong("moekit.fuzz.seed", 20261201L);
    static final double SECONDS = Double.parseDouble(System.getProperty("moekit.fuzz.seconds", "20"));
    static final long CASE_SECONDS = Long.getLong("moekit.fuzz.caseSeconds", 10);
    /** Per case: inputs are at most ~200 kB; reading a checkpoint's headers and planning its tensors takes a few MB. */
    static final long ALLOC_LIMIT = 256L << 20;
    static final Path SHARED = Path.of(System.getProperty("moekit.shared", "../shared"));
    static final Path MIXTRAL = SHARED.resolve("models/mixtral-tiny");
    static final Path QWEN = SHARED.resolve("models/qwen2moe-tiny");
    static final String SHARD = "model-00002-of-00005.safetensors";

    @TempDir
    Path tmp;

    /** One fuzz input: the files to write and how to read them back. */
    interface Case {
        void write() throws IOException;

        void read();

        Path saved();
    }

    @FunctionalInterface
    interface CaseMaker {
        Case make(Mutator m) throws IOException;
    }

    @Test
    void safetensorsHeader() throws IOException {
        byte[] header = header(MIXTRAL.resolve(SHARD));
        long dataLen = Files.size(MIXTRAL.resolve(SHARD)) - 8 - header.length;
        byte[] small = header(MIXTRAL.resolve("model-00001-of-00005.safetensors"));
        long smallData = Files.size(MIXTRAL.resolve("model-00001-of-00005.safetensors")) - 8 - small.length;
        Path file = tmp.resolve("fuzz.safetensors");
        run("safetensors-header", 0.4, m -> {
            boolean big = m.chance(0.7);
            byte[] h = m.mutateJson(big ? header : small);
            long declaredLen = h.length;
            if (!m.control && m.chance(0.15)) {
                declaredLen = switch (m.nextInt(6)) {
                    case 0 -> m.nextInt(3);
                    case 1 -> h.length + 1 + m.nextInt(16);
                    case 2 -> h.length - 1 - m.nextInt(Math.max(1, h.length));
                    case 3 -> 100L * 1024 * 1024 + m.nextInt(2);
                    case 4 -> -1 - m.nextInt(2);
                    default -> Long.MIN_VALUE;
                };
                m.log.add("declared header length " + declaredLen);
            }
            long declared = declaredLen;
            long data = (big ? dataLen : smallData) + (!m.control && m.chance(0.1) ? m.nextInt(17) - 8 : 0);
            long length = Math.max(0, data);
            return new Case() {
                @Override
                public void write() throws IOException {
                    writeShard(file, declared, h, length);
                }

                @Override
                public void read() {
                    try (SafetensorsFile f = SafetensorsFile.open(file)) {
                        f.tensors().values().forEach(t -> t.numel());
                    }
                }

                @Override
                public Path saved() {
                    return file;
                }
            };
        });
    }

    @Test
    void checkpointJson() throws IOException {
        Path mix = linked(MIXTRAL, "mix", Checkpoint.CONFIG, Checkpoint.INDEX);
        Path qwen = linked(QWEN, "qwen", Checkpoint.CONFIG, Checkpoint.INDEX);
        Map<Path, Path> src = Map.of(mix, MIXTRAL, qwen, QWEN);
        run("checkpoint-json", 0.35, m -> {
            Path dir = m.chance(0.7) ? mix : qwen;
            boolean config = m.chance(0.7);
            String mutated = config ? Checkpoint.CONFIG : Checkpoint.INDEX;
            String kept = config ? Checkpoint.INDEX : Checkpoint.CONFIG;
            byte[] bytes = m.mutateJson(Files.readAllBytes(src.get(dir).resolve(mutated)));
            m.log.add(0, dir.getFileName() + "/" + mutated);
            return new Case() {
                @Override
                public void write() throws IOException {
                    Files.write(dir.resolve(mutated), bytes);
                    Files.copy(src.get(dir).resolve(kept), dir.resolve(kept), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }

                @Override
                public void read() {
                    readCheckpoint(dir);
                }

                @Override
                public Path saved() {
                    return dir.resolve(mutated);
                }
            };
        });
    }

    @Test
    void shardStructure() throws IOException {
        Path dir = linked(MIXTRAL, "struct", SHARD);
        ObjectNode original = (ObjectNode) Json.STRICT.readTree(header(MIXTRAL.resolve(SHARD)));
        Path file = dir.resolve(SHARD);
        run("shard-structure", 0.25, m -> {
            ObjectNode h = original.deepCopy();
            int n = m.control ? 0 : 1 + m.nextInt(3);
            for (int i = 0; i < n; i++) {
                mutateEntry(m, h);
            }
            long data = layOut(h);
            byte[] bytes = h.toString().getBytes(StandardCharsets.UTF_8);
            return new Case() {
                @Override
                public void write() throws IOException {
                    writeShard(file, bytes.length, bytes, data);
                }

                @Override
                public void read() {
                    readCheckpoint(dir);
                }

                @Override
                public Path saved() {
                    return file;
                }
            };
        });
    }

    /** Everything a command does with a checkpoint before it computes: open, parse the spec, check it, count, read. */
    static void readCheckpoint(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            c.config();
            ModelSpec spec = ModelSpec.of(c);
            SpecChecker.check(c, spec);
            ParamCount.of(c, spec);
            ModelWeights w = new ModelWeights(c, spec);
            if (spec.layer(0).moe()) {
                w.expert(Role.EXPERT_UP, 0, spec.layer(0).experts() - 1);
            }
            w.get(Role.FINAL_NORM);
        }
    }

    /** Changes one tensor entry: its shape (rank, dimensions, scalar, empty), its dtype, or its name. */
    static void mutateEntry(Mutator m, ObjectNode h) {
        List<Map.Entry<String, JsonNode>> entries = Mutator.tensors(h);
        Map.Entry<String, JsonNode> e = m.pick(entries);
        ObjectNode t = (ObjectNode) e.getValue();
        ArrayNode shape = (ArrayNode) t.get("shape");
        switch (m.nextInt(6)) {
            case 0 -> {
                shape.removeAll();
                m.log.add(e.getKey() + ": shape []");
            }
            case 1 -> {
                if (!shape.isEmpty()) {
                    shape.remove(m.nextInt(shape.size()));
                }
                m.log.add(e.getKey() + ": shape " + shape);
            }
            case 2 -> {
                shape.insert(m.nextInt(shape.size() + 1), m.pick(List.of(0, 1, 2, 8)));
                m.log.add(e.getKey() + ": shape " + shape);
            }
            case 3 -> {
                if (!shape.isEmpty()) {
                    shape.set(m.nextInt(shape.size()), m.pick(List.of(0, 1, 3, 6, 7, 8, 9, 16, 32, 64, 128, 255, 256, 512, 1024)));
                }
                m.log.add(e.getKey() + ": shape " + shape);
            }
            case 4 -> {
                String d = m.pick(Arrays.stream(DType.values()).map(DType::safetensorsName).toList());
                t.put("dtype", d);
                m.log.add(e.getKey() + ": dtype " + d);
            }
            default -> {
                List<Long> dims = new ArrayList<>();
                shape.forEach(x -> dims.add(x.asLong()));
                java.util.Collections.reverse(dims);
                shape.removeAll();
                dims.forEach(shape::add);
                m.log.add(e.getKey() + ": shape reversed " + shape);
            }
        }
    }

    /** Rewrites the data_offsets of every entry contiguously; returns the data length. */
    static long layOut(ObjectNode h) {
        long off = 0;
        for (Map.Entry<String, JsonNode> e : Mutator.tensors(h)) {
            ObjectNode t = (ObjectNode) e.getValue();
            long n = DType.valueOf(t.get("dtype").asText()).size();
            for (JsonNode d : t.get("shape")) {
                n *= d.asLong();
            }
            t.putArray("data_offsets").add(off).add(off + n);
            off += n;
        }
        return off;
    }

    // ---- the engine

    private void run(String target, double share, CaseMaker maker) {
        long budgetNanos = (long) (SECONDS * share * 1e9);
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ExecutorService worker = newWorker();
        List<String> failures = new ArrayList<>();
        int[] outcomes = new int[3]; // ok, CheckpointException, IllegalArgumentException
        long maxAlloc = 0;
        long start = System.nanoTime();
        int cases = 0;
        try {
            for (; System.nanoTime() - start < budgetNanos && failures.size() < 5; cases++) {
                Mutator m = new Mutator(new SplittableRandom(SEED * 0x9E3779B97F4A7C15L + target.hashCode() * 31L + cases));
                m.control = cases % 64 == 0; // an unmutated input, which must read cleanly: checks the harness itself
                Case c;
                try {
                    c = maker.make(m);
                    c.write();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                Future<long[]> f = worker.submit(() -> {
                    long before = mx.getCurrentThreadAllocatedBytes();
                    int kind;
                    try {
                        c.read();
                        kind = 0;
                    } catch (CheckpointException e) {
                        kind = 1;
                        oneLine(e);
                    } catch (IllegalArgumentException e) {
                        kind = 2;
                        oneLine(e);
                    }
                    return new long[] {kind, mx.getCurrentThreadAllocatedBytes() - before};
                });
                String what = target + " seed " + SEED + " case " + cases + " " + m.log;
                try {
                    long[] r = f.get(CASE_SECONDS, TimeUnit.SECONDS);
                    outcomes[(int) r[0]]++;
                    if (m.control && r[0] != 0) {
                        failures.add(what + ": the unmutated input did not read (the harness is broken)");
                    }
                    maxAlloc = Math.max(maxAlloc, r[1]);
                    if (r[1] > ALLOC_LIMIT) {
                        failures.add(what + ": allocated " + r[1] + " bytes");
                        save(target, cases, c);
                    }
                } catch (TimeoutException e) {
                    f.cancel(true);
                    worker.shutdownNow();
                    worker = newWorker(); // the stuck thread is a daemon and is left behind
                    failures.add(what + ": no result after " + CASE_SECONDS + " s");
                    save(target, cases, c);
                } catch (java.util.concurrent.ExecutionException e) {
                    failures.add(what + ": " + describe(e.getCause()));
                    save(target, cases, c);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        } finally {
            worker.shutdownNow();
        }
        System.out.printf("fuzz %s: %d cases in %.1f s, seed %d: %d ok, %d CheckpointException, %d IllegalArgumentException, "
                        + "max %d kB allocated per case, %d failures%n", target, cases, (System.nanoTime() - start) / 1e9, SEED,
                outcomes[0], outcomes[1], outcomes[2], maxAlloc >> 10, failures.size());
        assertTrue(cases > 0, "no case ran");
        if (!failures.isEmpty()) {
            fail(failures.size() + " unclean outcome(s):\n" + String.join("\n", failures));
        }
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-case");
            t.setDaemon(true);
            return t;
        });
    }

    private static void oneLine(RuntimeException e) {
        String msg = e.getMessage();
        if (msg == null || msg.indexOf('\n') >= 0 || msg.indexOf('\r') >= 0 || msg.chars().anyMatch(c -> c == 0x1b)) {
            throw new AssertionError("message is not one clean line: " + Mutator.abbreviate(String.valueOf(msg)), e);
        }
    }

    private static String describe(Throwable t) {
        StringBuilder b = new StringBuilder(t.toString().length() > 300 ? t.toString().substring(0, 300) : t.toString());
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < Math.min(6, st.length); i++) {
            b.append(" at ").append(st[i]);
        }
        return b.toString();
    }

    private static void save(String target, int i, Case c) {
        try {
            Path dir = Path.of("target", "fuzz-failures");
            Files.createDirectories(dir);
            Files.copy(c.saved(), dir.resolve(target + "-" + SEED + "-" + i + "-" + c.saved().getFileName()),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            // best effort: the message already names seed and case
        }
    }

    // ---- files

    static byte[] header(Path shard) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "r")) {
            byte[] len = new byte[8];
            f.readFully(len);
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            byte[] h = new byte[Math.toIntExact(n)];
            f.readFully(h);
            return h;
        }
    }

    /** Length prefix, header, then {@code dataLen} bytes of zeros as a hole (sparse: nothing is written). */
    static void writeShard(Path file, long declared, byte[] header, long dataLen) throws IOException {
        Files.deleteIfExists(file); // it may be a link to the reference shard
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(declared).array());
            f.write(header);
            f.setLength(8L + header.length + dataLen);
        }
    }

    /** A folder of links to {@code model}'s files except {@code own}, which the cases write. */
    private Path linked(Path model, String name, String... own) throws IOException {
        Path dst = tmp.resolve(name);
        Files.createDirectories(dst);
        List<String> mine = List.of(own);
        try (var s = Files.list(model)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (!mine.contains(p.getFileName().toString())) {
                    Files.createSymbolicLink(dst.resolve(p.getFileName()), p.toAbsolutePath());
                }
            }
        }
        return dst;
    }
}
