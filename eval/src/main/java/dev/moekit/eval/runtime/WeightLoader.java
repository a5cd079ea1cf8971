package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ModelWeights;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Turns checkpoint tensors into NDArrays of the compute dtype. A tensor under its own name is read with
 * {@link Checkpoint#read}: mapped and converted in Java ({@link Floats#convert}, bf16 never reaches DJL), or for a
 * packed checkpoint's view dequantized, straight into the off-heap memory that DJL wraps on CPU and copies to a GPU; fused 3-D expert tensors go through {@link ModelWeights#expert}. Names come from the spec only.
 * The off-heap memory comes from the caller's {@link Arena}, which must outlive the arrays on CPU (they wrap it) and
 * is closed right after the arrays: weights are freed at once, not when the GC finds their buffers.
 */
final class WeightLoader {
    private final Checkpoint checkpoint;
    private final ModelSpec spec;
    private final ModelWeights weights;
    private final Precision precision;

    WeightLoader(Checkpoint checkpoint, ModelSpec spec, Precision precision) {
        this.checkpoint = checkpoint;
        this.spec = spec;
        this.weights = new ModelWeights(checkpoint, spec);
        this.precision = precision;
    }

    ModelSpec spec() {
        return spec;
    }

    /** Whether a model-level or per-layer tensor is present ({@code layer < 0}: model-level). */
    boolean has(Role role, int layer) {
        if (!spec.family().has(role)) {
            return false;
        }
        return checkpoint.has(layer < 0 ? spec.name(role) : spec.name(role, layer));
    }

    /** A model-level tensor (embedding, final norm, lm_head). */
    NDArray model(NDManager m, Arena arena, Role role) {
        return named(m, arena, spec.name(role));
    }

    /** A per-layer tensor. */
    NDArray layer(NDManager m, Arena arena, Role role, int layer) {
        return named(m, arena, spec.name(role, layer));
    }

    /** One BAM attention expert's projection, always stored under its own name. */
    NDArray attentionExpert(NDManager m, Arena arena, Role role, int layer, int expert) {
        return named(m, arena, spec.name(role, layer, expert));
    }

    /** One routed expert's matrix {@code [out, in]}, stored per expert or fused. */
    NDArray expert(NDManager m, Arena arena, Role role, int layer, int expert, long[] shape) {
        if (!spec.fusedExperts()) {
            return named(m, arena, spec.name(role, layer, expert));
        }
        return fromFloats(m, arena, weights.expert(role, layer, expert), shape);
    }

    /**
     * All routed experts' matrices of one role as one {@code [E, out, in]} array, or null when that exceeds one
     * direct buffer (the caller then loads them one by one). Converted expert by expert into one allocation, so the
     * experts cost no more memory stacked than apart.
     */
    NDArray experts(NDManager m, Arena arena, Role role, int layer, int count, long[] shape) {
        long numel = TensorInfo.numel(shape);
        long bytes = count * numel * precision.storage().size();
        if (bytes > Integer.MAX_VALUE) {
            return null;
        }
        try (Arena staging = Arena.ofShared()) {
            MemorySegment seg = (wraps(m) ? arena : staging).allocate(bytes, 64);
            long stride = numel * precision.storage().size();
            for (int e = 0; e < count; e++) {
                MemorySegment dst = seg.asSlice(e * stride, stride);
                if (spec.fusedExperts()) {
                    float[] data = weights.expert(role, layer, e);
                    Floats.encode(data, 0, data.length, precision.storage(), dst, 0);
                } else {
                    String name = spec.name(role, layer, e);
                    TensorInfo info = floating(name);
                    if (info.numel() != numel) {
                        throw new CheckpointException(checkpoint.dir() + ": tensor '" + name + "' has shape "
                                + new Shape(info.shape()) + ", expected " + new Shape(shape));
                    }
                    checkpoint.read(name, dst, precision.storage());
                }
            }
            long[] stacked = {count, shape[0], shape[1]};
            return m.create(buffer(seg), new Shape(stacked), precision.dataType());
        }
    }

    /** An fp32 {@code [out, in]} array as an NDArray of the compute dtype (used for edited weights too). */
    NDArray fromFloats(NDManager m, Arena arena, float[] data, long[] shape) {
        if (TensorInfo.numel(shape) != data.length) {
            throw new IllegalArgumentException("weight of " + data.length + " values does not fit shape "
                    + new Shape(shape));
        }
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment seg = (wraps(m) ? arena : staging).allocate((long) data.length * precision.storage().size(), 64);
            Floats.encode(data, 0, data.length, precision.storage(), seg, 0);
            return m.create(buffer(seg), new Shape(shape), precision.dataType());
        }
    }

    private TensorInfo floating(String name) {
        if (!checkpoint.has(name)) {
            throw new CheckpointException(checkpoint.dir() + ": tensor '" + name + "' is missing");
        }
        TensorInfo info = checkpoint.info(name);
        if (!info.dtype().isFloating()) {
            throw new CheckpointException(checkpoint.dir() + ": tensor '" + name + "' is " + info.dtype()
                    + ", the runtime needs floating-point weights (dequantize first)");
        }
        return info;
    }

    private NDArray named(NDManager m, Arena arena, String name) {
        TensorInfo info = floating(name);
        try (Arena staging = Arena.ofShared()) { // shared: the conversion runs on several threads
            MemorySegment seg = (wraps(m) ? arena : staging).allocate(info.numel() * precision.storage().size(), 64);
            checkpoint.read(name, seg, precision.storage()); // converted (or dequantized) straight into the buffer DJL takes
            return m.create(buffer(seg), new Shape(info.shape()), precision.dataType());
        }
    }

    /** On CPU DJL wraps direct memory (it must live as long as the array); other devices copy it at creation. */
    private static boolean wraps(NDManager m) {
        return !m.getDevice().isGpu();
    }

    private static ByteBuffer buffer(MemorySegment seg) {
        if (seg.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor of " + seg.byteSize() + " bytes exceeds one direct buffer");
        }
        return seg.asByteBuffer().order(ByteOrder.nativeOrder());
    }
}
