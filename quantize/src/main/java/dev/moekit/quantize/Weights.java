package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Reads one linear module's weight as fp32 [rows, cols], slicing fused expert tensors; writes dense values back. */
public final class Weights {
    private Weights() {
    }

    public static float[] read(Checkpoint c, LinearModule m) {
        if (!m.fused()) {
            return c.floats(m.tensor());
        }
        TensorInfo t = c.info(m.tensor());
        long per = m.params() * t.dtype().size();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment all = c.map(m.tensor(), a);
            return Floats.decode(all.asSlice(m.slice() * per, per), t.dtype());
        }
    }

    /**
     * Encodes fp32 {@code values} to {@code type} in native memory and writes them as {@code tensor}: the Vector API
     * encoder runs at full speed off-heap, and the file write needs no bounce buffer (a heap array cost 10x in the RTN
     * benchmark).
     */
    public static void write(CheckpointWriter w, String tensor, float[] values, DType type) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate((long) values.length * type.size(), 64);
            Floats.encode(values, 0, values.length, type, seg, 0);
            w.write(tensor, seg);
        }
    }
}
