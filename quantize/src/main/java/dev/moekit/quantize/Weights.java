package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Reads one linear module's weight as fp32 [rows, cols], slicing fused expert tensors. */
final class Weights {
    private Weights() {
    }

    static float[] read(Checkpoint c, LinearModule m) {
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
}
