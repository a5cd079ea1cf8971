package dev.moekit.distill;

import dev.moekit.eval.runtime.Trainable;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the trained student in its own layout: every tensor keeps its name, dtype and shape; trained ones get the
 * fp32 masters encoded back to their dtype (bf16 with round-to-nearest-even), one expert of a fused 3-D tensor
 * written into its slice of the original; all others are copied byte for byte; config and other files unchanged.
 * Added parameters with a tensor name are appended in the checkpoint's floating dtype. Shards are cut at the input's
 * largest shard size.
 */
final class StudentWriter {
    private StudentWriter() {}

    /** Returns the bytes written. */
    static long write(Checkpoint in, ModelSpec spec, Trainable trained, List<AddedParameter> added, Path out, Path... inputs) {
        Map<String, float[]> values = new HashMap<>();
        Map<String, String> addedTensors = new HashMap<>();
        for (AddedParameter a : added) {
            if (a.tensor() != null) {
                addedTensors.put(a.name() + "@" + a.layer(), a.tensor());
            }
        }
        Map<String, List<Trainable.Param>> fused = new LinkedHashMap<>();
        for (Trainable.Param p : trained.params()) {
            if (p.role() == null) {
                String t = addedTensors.get(p.extra() + "@" + p.layer());
                if (t != null) {
                    values.put(t, p.floats());
                }
            } else if (p.role().perExpert() && spec.fusedExperts()) {
                fused.computeIfAbsent(spec.name(p.role() == Role.EXPERT_DOWN ? Role.EXPERTS_DOWN : Role.EXPERTS_GATE_UP,
                        p.layer()), k -> new ArrayList<>()).add(p);
            } else {
                values.put(p.layer() < 0 ? spec.name(p.role()) : p.expert() < 0 ? spec.name(p.role(), p.layer())
                        : spec.name(p.role(), p.layer(), p.expert()), p.floats());
            }
        }
        fused.forEach((name, ps) -> values.put(name, intoFused(in.floats(name), spec, ps)));
        List<TensorSpec> plan = new ArrayList<>();
        for (String n : in.names()) {
            plan.add(TensorSpec.of(in.info(n)));
        }
        for (AddedParameter a : added) {
            if (a.tensor() != null) {
                if (in.has(a.tensor())) {
                    throw new IllegalArgumentException("added parameter '" + a.name() + "': tensor '" + a.tensor() + "' already exists in " + in.dir());
                }
                plan.add(new TensorSpec(a.tensor(), spec.dtype(), a.shape()));
            }
        }
        long shard = in.shards().stream().mapToLong(SafetensorsFile::fileSize).max().orElse(CheckpointWriter.DEFAULT_MAX_SHARD);
        try (CheckpointWriter w = CheckpointWriter.create(out, plan,
                CheckpointWriter.Options.defaults().withMaxShardSize(Math.max(shard, 1)), inputs)) {
            for (TensorSpec t : plan) {
                float[] v = values.get(t.name());
                if (v != null) {
                    w.write(t.name(), v);
                } else {
                    w.copy(t.name(), in.shard(t.name()), t.name());
                }
            }
            w.copyOtherFiles(in);
            w.commit(in.config());
        }
        return plan.stream().mapToLong(TensorSpec::byteSize).sum();
    }

    /** Writes trained experts into a fused tensor: gate_up {@code [E, 2*ffn, hidden]} (gate rows first), down {@code [E, hidden, ffn]}. */
    private static float[] intoFused(float[] base, ModelSpec spec, List<Trainable.Param> ps) {
        for (Trainable.Param p : ps) {
            LayerSpec ls = spec.layer(p.layer());
            long block = (long) ls.expertFfn() * spec.hidden();
            long per = p.role() == Role.EXPERT_DOWN ? block : 2 * block;
            long at = p.expert() * per + (p.role() == Role.EXPERT_UP ? block : 0);
            float[] v = p.floats();
            System.arraycopy(v, 0, base, Math.toIntExact(at), v.length);
        }
        return base;
    }
}
