package dev.moekit.prune.expert;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads one MoE layer's experts from a checkpoint through memory maps (per-expert tensors, or slices of fused 3-D
 * tensors), decoding chunks to fp32 on demand.
 */
final class CheckpointExperts implements ExpertReader {
    private final Checkpoint in;
    private final ModelSpec spec;
    private final int layer;
    private final int experts;
    private final List<Role> roles;
    private final Map<String, MemorySegment> mapped = new HashMap<>();
    private final Arena arena = Arena.ofAuto();

    CheckpointExperts(Checkpoint in, ModelSpec spec, int layer) {
        this.in = in;
        this.spec = spec;
        this.layer = layer;
        this.experts = spec.layer(layer).experts();
        this.roles = ExpertRoles.expertRoles(spec);
        if (roles.isEmpty()) {
            throw new CheckpointException(in.dir() + ": family " + spec.family().name() + " names no routed-expert tensors");
        }
    }

    @Override
    public int experts() {
        return experts;
    }

    @Override
    public int parts() {
        return roles.size();
    }

    private String name(int e, int part) {
        Role r = roles.get(part);
        return spec.fusedExperts() ? spec.name(r, layer) : spec.name(r, layer, e);
    }

    private TensorInfo info(int part) {
        String n = name(0, part);
        if (!in.has(n)) {
            throw new CheckpointException(in.dir() + ": missing expert tensor '" + n + "'");
        }
        return in.info(n);
    }

    @Override
    public long size(int part) {
        long n = info(part).numel();
        return spec.fusedExperts() ? n / experts : n;
    }

    @Override
    public int columns(int part) {
        return (int) info(part).dim(-1);
    }

    @Override
    public void read(int e, int part, long from, float[] dst, int count) {
        String n = name(e, part);
        TensorInfo t = in.info(n);
        if (!t.dtype().isFloating()) {
            throw new CheckpointException(in.dir() + ": expert tensor '" + n + "' is " + t.dtype() + ", not floating point");
        }
        MemorySegment seg = mapped.computeIfAbsent(n, k -> in.map(k, arena));
        long base = spec.fusedExperts() ? (long) e * size(part) : 0;
        decode(seg, base + from, t.dtype(), dst, count);
    }

    private static void decode(MemorySegment seg, long first, DType dtype, float[] dst, int count) {
        Floats.decode(seg, first, dtype, dst, 0, count);
    }
}
