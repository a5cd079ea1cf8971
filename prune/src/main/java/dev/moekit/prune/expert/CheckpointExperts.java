package dev.moekit.prune.expert;

import dev.moekit.prune.expert.write.ExpertRoles;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.tensor.Floats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads one MoE layer's experts from a checkpoint (per-expert tensors, or slices of fused 3-D tensors), decoding
 * chunks to fp32 on demand. Chunks are read with positional reads into one reusable buffer rather than memory maps, so
 * the resident set stays at a few chunks however many experts a cluster streams through. Close it after the layer.
 */
final class CheckpointExperts implements ExpertReader {
    private final Checkpoint in;
    private final ModelSpec spec;
    private final int layer;
    private final int experts;
    private final List<Role> roles;
    private final Map<Path, FileChannel> channels = new HashMap<>();
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

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
        long first = (spec.fusedExperts() ? (long) e * size(part) : 0) + from;
        int bytes = Math.multiplyExact(count, t.dtype().size());
        if (buffer.capacity() < bytes) {
            buffer = ByteBuffer.allocateDirect(bytes);
        }
        ByteBuffer b = buffer.clear().limit(bytes);
        var shard = in.shard(n);
        long pos = shard.dataStart() + t.begin() + first * t.dtype().size();
        try {
            FileChannel ch = channels.computeIfAbsent(shard.path(), CheckpointExperts::open);
            while (b.hasRemaining()) {
                if (ch.read(b, pos + b.position()) < 0) {
                    throw new CheckpointException(shard.path() + ": tensor '" + n + "' ends early");
                }
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(shard.path() + ": reading tensor '" + n + "' failed", ex);
        }
        decode(MemorySegment.ofBuffer(b.flip()), t.dtype(), dst, count);
    }

    private static FileChannel open(Path p) {
        try {
            return FileChannel.open(p, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": cannot open", e);
        }
    }

    private static void decode(MemorySegment seg, DType dtype, float[] dst, int count) {
        Floats.decode(seg, 0, dtype, dst, 0, count);
    }

    @Override
    public void close() {
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only; nothing to lose
            }
        }
        channels.clear();
    }
}
