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
        float[] w = new float[Math.toIntExact(m.params())];
        read(c, m, w);
        return w;
    }

    /**
     * Reads {@code m}'s weight into {@code into} (exactly {@code m.params()} values), decoding in parallel straight
     * from the mapped file: callers quantizing many modules reuse one buffer per size instead of a new array each.
     */
    public static void read(Checkpoint c, LinearModule m, float[] into) {
        if (into.length != m.params()) {
            throw new IllegalArgumentException(m.module() + ": buffer of " + into.length + " values for a weight of " + m.params());
        }
        if (!m.fused()) {
            c.floats(m.tensor(), into);
            return;
        }
        TensorInfo t = c.info(m.tensor());
        long per = m.params() * t.dtype().size();
        try (Arena a = Arena.ofShared()) {
            MemorySegment all = c.map(m.tensor(), a);
            Floats.decodeInto(all.asSlice(m.slice() * per, per), t.dtype(), into);
        }
    }

    /** Encodes fp32 {@code values} to {@code type} and writes them as {@code tensor} (planned in that dtype). */
    public static void write(CheckpointWriter w, String tensor, float[] values, DType type) {
        if (w.spec(tensor).dtype() != type) {
            throw new IllegalArgumentException(tensor + ": planned as " + w.spec(tensor).dtype() + ", written as " + type);
        }
        w.write(tensor, values);
    }
}
