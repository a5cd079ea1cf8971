package dev.moekit.distill;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.CheckpointException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The teacher's top-k logits per training window, computed without gradients. With a cache, each window's entry is
 * computed the first time a step visits it (the teacher runs on that step's whole micro-batch, so values do not depend
 * on what was cached before) and kept: in a file in the state folder, so a resumed run reuses it, or in memory. The
 * file holds a header (shape and a key of teacher, data and k), one presence byte per window, written after its entry,
 * then per window {@code T*k} fp32 logits and {@code T*k} int32 token ids.
 */
final class TeacherTopK implements AutoCloseable {
    private static final long MAGIC = 0x4b50544b54534f4dL;   // file magic
    private static final int HEADER = 64;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Top-k of one micro-batch: {@code [B*T*k]} logits (descending per position) and token ids. */
    record Targets(float[] values, int[] indices, int k) {}

    private final CausalLm teacher;
    private final int k;
    private final int length;
    private final Arena arena;
    private final FileChannel channel;
    private final MemorySegment store;   // null: live
    private final long dataStart;
    private long computed;

    private TeacherTopK(CausalLm teacher, int k, int length, Arena arena, FileChannel channel, MemorySegment store, long dataStart) {
        this.teacher = teacher;
        this.k = k;
        this.length = length;
        this.arena = arena;
        this.channel = channel;
        this.store = store;
        this.dataStart = dataStart;
    }

    /** Bytes a cache of {@code windows} windows takes. */
    static long cacheBytes(int windows, int length, int k) {
        return HEADER + pad(windows) + (long) windows * length * k * 8;
    }

    /** Recomputes every step. */
    static TeacherTopK live(CausalLm teacher, int k, int length) {
        return new TeacherTopK(teacher, k, length, null, null, null, 0);
    }

    /** Caches in memory ({@code file == null}) or in {@code file}, reused if its header matches {@code key}. */
    static TeacherTopK cached(CausalLm teacher, int k, int windows, int length, long key, Path file) {
        long size = cacheBytes(windows, length, k);
        Arena arena = Arena.ofShared();
        FileChannel ch = null;
        try {
            MemorySegment seg;
            if (file == null) {
                seg = arena.allocate(size, 8);
            } else {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            }
            boolean same = seg.get(L, 0) == MAGIC && seg.get(I, 8) == windows && seg.get(I, 12) == length
                    && seg.get(I, 16) == k && seg.get(L, 24) == key;
            if (!same) {
                seg.asSlice(0, HEADER + pad(windows)).fill((byte) 0);
                seg.set(I, 8, windows);
                seg.set(I, 12, length);
                seg.set(I, 16, k);
                seg.set(L, 24, key);
                seg.set(L, 0, MAGIC);
            }
            return new TeacherTopK(teacher, k, length, arena, ch, seg, HEADER + pad(windows));
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException(file + ": cannot open the teacher cache", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static long pad(int windows) {
        return (windows + 7L) / 8 * 8;
    }

    /** Whether entries are kept (memory or file) rather than recomputed. */
    boolean cached() {
        return store != null;
    }

    /** Teacher forwards run so far (windows), for the report. */
    long computedWindows() {
        return computed;
    }

    /** The top-k of the windows {@code ids} that make up {@code batch}. */
    Targets get(int[] ids, TokenBatch batch) {
        int per = length * k;
        float[] values = new float[ids.length * per];
        int[] indices = new int[ids.length * per];
        boolean all = store != null;
        for (int i = 0; all && i < ids.length; i++) {
            all = store.get(ValueLayout.JAVA_BYTE, HEADER + ids[i]) != 0;
        }
        if (all) {
            for (int i = 0; i < ids.length; i++) {
                long at = entry(ids[i]);
                MemorySegment.copy(store, F, at, values, i * per, per);
                MemorySegment.copy(store, I, at + per * 4L, indices, i * per, per);
            }
            return new Targets(values, indices, k);
        }
        if (batch.length() != length) {
            throw new CheckpointException("teacher top-k: windows of " + batch.length() + " tokens, cache made for " + length);
        }
        teacher.run(List.of(batch), ForwardObserver.NONE, (b, tb, logits) -> {
            if (logits.getShape().get(2) < k) {
                throw new IllegalArgumentException("top_k " + k + " exceeds the teacher's vocabulary of " + logits.getShape().get(2));
            }
            NDList top = logits.topK(k, -1, true, true);
            System.arraycopy(top.get(0).toFloatArray(), 0, values, 0, values.length);
            System.arraycopy(top.get(1).toType(DataType.INT32, false).toIntArray(), 0, indices, 0, indices.length);
        });
        computed += ids.length;
        if (store != null) {
            for (int i = 0; i < ids.length; i++) {
                if (store.get(ValueLayout.JAVA_BYTE, HEADER + ids[i]) == 0) {
                    long at = entry(ids[i]);
                    MemorySegment.copy(values, i * per, store, F, at, per);
                    MemorySegment.copy(indices, i * per, store, I, at + per * 4L, per);
                    store.set(ValueLayout.JAVA_BYTE, HEADER + ids[i], (byte) 1);
                }
            }
        }
        return new Targets(values, indices, k);
    }

    private long entry(int window) {
        return dataStart + (long) window * length * k * 8;
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the mapping is gone already; nothing to lose
            }
        }
    }
}
