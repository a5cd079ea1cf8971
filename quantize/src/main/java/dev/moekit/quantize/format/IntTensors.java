package dev.moekit.quantize.format;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian integer tensors to and from safetensors bytes. */
final class IntTensors {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private IntTensors() {
    }

    /** Little-endian I32 bytes in native memory (freed by the GC), so the file write needs no bounce buffer. */
    static MemorySegment i32(int[] v) {
        MemorySegment s = Arena.ofAuto().allocate((long) v.length * 4, 64);
        for (int i = 0; i < v.length; i++) {
            s.setAtIndex(I32, i, v[i]);
        }
        return s;
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
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = c.map(name, a);
            int n = Math.toIntExact(t.numel());
            int[] v = new int[n];
            if (t.dtype() == DType.I32) {
                for (int i = 0; i < n; i++) {
                    v[i] = s.getAtIndex(I32, i);
                }
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
