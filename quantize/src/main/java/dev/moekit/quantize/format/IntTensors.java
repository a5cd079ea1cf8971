package dev.moekit.quantize.format;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/** Little-endian integer tensors to and from safetensors bytes. */
final class IntTensors {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private IntTensors() {
    }

    /**
     * Fills a buffer of {@code 4 * v.length} bytes with {@code v} as little-endian I32 (one bulk copy), for
     * {@link dev.moekit.toolkit.io.CheckpointWriter#write(String, java.util.function.Consumer)}.
     */
    static Consumer<MemorySegment> i32(int[] v) {
        return dst -> MemorySegment.copy(v, 0, dst, I32, 0, v.length);
    }

    static MemorySegment i64(long... v) {
        MemorySegment s = MemorySegment.ofArray(new byte[v.length * 8]);
        for (int i = 0; i < v.length; i++) {
            s.setAtIndex(I64, i, v[i]);
        }
        return s;
    }

    /** An I32 tensor's values (I64 accepted and narrowed, for shape tensors). */
    static int[] read(Checkpoint c, String name) {
        TensorInfo t = c.info(name);
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = c.map(name, a);
            int n = Math.toIntExact(t.numel());
            int[] v = new int[n];
            if (t.dtype() == DType.I32) {
                MemorySegment.copy(s, I32, 0, v, 0, n);
            } else if (t.dtype() == DType.I64) {
                for (int i = 0; i < n; i++) {
                    v[i] = Math.toIntExact(s.getAtIndex(I64, i));
                }
            } else {
                throw new CheckpointException(c.dir() + ": tensor '" + name + "' is " + t.dtype() + ", expected I32");
            }
            return v;
        }
    }
}
