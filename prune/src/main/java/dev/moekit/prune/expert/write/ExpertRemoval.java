package dev.moekit.prune.expert.write;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.prune.expert.KeptExpert;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes the pruned checkpoint. Every output tensor is planned first: untouched tensors (attention, norms, shared
 * experts, dense layers, embeddings) are copied byte for byte; kept experts are renumbered 0..K-1 in their order and
 * copied from their source; router weight, router bias and {@code e_score_correction_bias} keep the rows of the kept
 * experts in the same order (bit-exact slices); fused [E, ...] expert tensors are sliced the same way; averaged
 * clusters are computed in fp32 and written back in the checkpoint's dtype.
 */
public final class ExpertRemoval {
    private sealed interface Source permits Copy, Mean, Rows {}

    /** Copy an input tensor unchanged (possibly under a new name). */
    private record Copy(String src) implements Source {}

    /** Element-wise mean of several input tensors of one shape. */
    private record Mean(List<String> srcs) implements Source {}

    /** Keep rows (slices along dim 0) of an [E, ...] tensor, averaging grouped rows. */
    private record Rows(String src, int experts, List<KeptExpert> groups) implements Source {}

    private record Planned(TensorSpec spec, Source source) {}

    private ExpertRemoval() {}

    /** Plans, writes and commits the output with {@code config}; returns the output tensor bytes. */
    public static long write(Checkpoint in, ModelSpec spec, List<LayerResult> layers, Path out, JsonNode config,
                             CheckpointWriter.Options options) {
        Map<String, Planned> plan = plan(TensorTable.of(in), spec, layers);
        List<TensorSpec> specs = plan.values().stream().map(Planned::spec).toList();
        try (CheckpointWriter w = CheckpointWriter.create(out, specs, options, in.dir())) {
            for (Map.Entry<String, Planned> e : plan.entrySet()) {
                emit(in, w, e.getKey(), e.getValue());
            }
            w.copyOtherFiles(in);
            w.commit(config);
        }
        return specs.stream().mapToLong(TensorSpec::byteSize).sum();
    }

    /**
     * Writes the output tensors whose names {@code mine} accepts (a batch work unit's share) into the writer
     * {@code writerFor} makes for them, and commits it without a config; the same bytes {@link #write} gives those
     * tensors. Returns their bytes.
     */
    public static long writeSome(Checkpoint in, ModelSpec spec, List<LayerResult> layers, java.util.function.Predicate<String> mine,
                                 java.util.function.Function<List<TensorSpec>, CheckpointWriter> writerFor) {
        Map<String, Planned> plan = plan(TensorTable.of(in), spec, layers);
        plan.keySet().removeIf(n -> !mine.test(n));
        List<TensorSpec> specs = plan.values().stream().map(Planned::spec).toList();
        try (CheckpointWriter w = writerFor.apply(specs)) {
            for (Map.Entry<String, Planned> e : plan.entrySet()) {
                emit(in, w, e.getKey(), e.getValue());
            }
            w.commit(null);
        }
        return specs.stream().mapToLong(TensorSpec::byteSize).sum();
    }

    /**
     * The output tensors (names, dtypes, shapes, in output order) for {@code layers}; only the kept counts matter, so
     * a plan may pass placeholder decisions.
     */
    public static List<TensorSpec> tensors(TensorTable in, ModelSpec spec, List<LayerResult> layers) {
        return plan(in, spec, layers).values().stream().map(Planned::spec).toList();
    }

    /** The output tensors in input order, each with where its data comes from. */
    private static Map<String, Planned> plan(TensorTable in, ModelSpec spec, List<LayerResult> layers) {
        Set<String> consumed = new HashSet<>();
        Map<String, Planned> remapped = new LinkedHashMap<>();
        for (LayerResult lr : layers) {
            if (lr.pruned()) {
                planLayer(in, spec, lr, consumed, remapped);
            }
        }
        Map<String, Planned> plan = new LinkedHashMap<>();
        for (String n : in.names()) {
            if (remapped.containsKey(n)) {
                plan.put(n, remapped.remove(n));
            } else if (!consumed.contains(n)) {
                plan.put(n, new Planned(in.spec(n), new Copy(n)));
            }
        }
        if (!remapped.isEmpty()) {
            throw new IllegalStateException("planned output tensors absent from the input: " + remapped.keySet());
        }
        return plan;
    }

    private static void planLayer(TensorTable in, ModelSpec spec, LayerResult lr, Set<String> consumed, Map<String, Planned> out) {
        int l = lr.layer();
        List<KeptExpert> kept = lr.kept();
        if (spec.fusedExperts()) {
            for (Role r : ExpertRoles.expertRoles(spec)) {
                rows(in, spec.name(r, l), lr, consumed, out);
            }
        } else {
            for (Role r : ExpertRoles.expertRoles(spec)) {
                for (int e = 0; e < lr.experts(); e++) {
                    String n = spec.name(r, l, e);
                    if (!in.has(n)) {
                        throw new CheckpointException(in.where() + ": layer " + l + " lacks expert tensor '" + n + "'");
                    }
                    consumed.add(n);
                }
                for (int j = 0; j < kept.size(); j++) {
                    KeptExpert k = kept.get(j);
                    String dst = spec.name(r, l, j);
                    String first = spec.name(r, l, k.source());
                    Source s = k.averaged()
                            ? new Mean(java.util.Arrays.stream(k.members()).mapToObj(m -> spec.name(r, l, m)).toList())
                            : new Copy(first);
                    TensorSpec t = in.spec(first);
                    out.put(dst, new Planned(new TensorSpec(dst, t.dtype(), t.shape()), s));
                }
            }
        }
        ExpertRoles.router(in, spec, l);
        for (Role r : ExpertRoles.routerRoles(in, spec, l)) {
            rows(in, spec.name(r, l), lr, consumed, out);
        }
    }

    private static void rows(TensorTable in, String name, LayerResult lr, Set<String> consumed, Map<String, Planned> out) {
        if (!in.has(name)) {
            throw new CheckpointException(in.where() + ": layer " + lr.layer() + " lacks tensor '" + name + "'");
        }
        TensorSpec t = in.spec(name);
        long[] shape = t.shape();
        if (shape.length < 1 || shape[0] != lr.experts()) {
            throw new CheckpointException(in.where() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape)
                    + ", expected " + lr.experts() + " experts in dimension 0");
        }
        shape[0] = lr.kept().size();
        consumed.add(name);
        out.put(name, new Planned(new TensorSpec(name, t.dtype(), shape), new Rows(name, lr.experts(), lr.kept())));
    }

    private static void emit(Checkpoint in, CheckpointWriter w, String name, Planned p) {
        switch (p.source()) {
            case Copy c -> w.copy(name, in.shard(c.src()), c.src());
            case Mean m -> w.write(name, mean(in, m.srcs()));
            case Rows r -> {
                try (Arena a = Arena.ofConfined()) {
                    w.write(name, rows(in, r, a));
                }
            }
        }
    }

    private static float[] mean(Checkpoint in, List<String> srcs) {
        double[] sum = null;
        for (String s : srcs) {
            float[] v = in.floats(s);
            if (sum == null) {
                sum = new double[v.length];
            }
            for (int i = 0; i < v.length; i++) {
                sum[i] += v[i];
            }
        }
        float[] out = new float[sum.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (sum[i] / srcs.size());
        }
        return out;
    }

    private static MemorySegment rows(Checkpoint in, Rows r, Arena a) {
        dev.moekit.toolkit.io.TensorInfo t = in.info(r.src());
        MemorySegment src = in.map(r.src(), a);
        long rowBytes = t.byteSize() / r.experts();
        long rowElems = t.numel() / r.experts();
        MemorySegment dst = a.allocate(rowBytes * r.groups().size(), 8);
        DType dt = t.dtype();
        for (int j = 0; j < r.groups().size(); j++) {
            KeptExpert k = r.groups().get(j);
            if (!k.averaged()) {
                MemorySegment.copy(src, k.source() * rowBytes, dst, j * rowBytes, rowBytes);
                continue;
            }
            if (!dt.isFloating() || rowElems > Integer.MAX_VALUE - 8) {
                throw new CheckpointException(in.dir() + ": cannot average rows of '" + r.src() + "' (" + dt + t.shapeString() + ")");
            }
            float[] acc = new float[(int) rowElems];
            float[] row = new float[(int) rowElems];
            for (int m : k.members()) {
                Floats.decode(src, m * rowElems, dt, row, 0, row.length);
                for (int i = 0; i < row.length; i++) {
                    acc[i] += row[i] / k.members().length;
                }
            }
            Floats.encode(acc, 0, acc.length, dt, dst, j * rowBytes);
        }
        return dst;
    }
}
