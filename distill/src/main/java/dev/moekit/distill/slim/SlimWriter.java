package dev.moekit.distill.slim;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ConfigWriter;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a slimmed checkpoint in the input's own family layout: the kept rows of expert gate/up and the kept columns
 * of expert down (per expert, or per expert block of a fused 3-D tensor: gate rows and up rows of {@code gate_up}
 * with the same indices), the same for shared experts, and for attention the rows of the kept GQA groups in q/k/v
 * and their biases, the matching columns of o (and the slices of whole-projection q/k norms, OLMoE). Kept values are
 * copied byte for byte; every other tensor is copied unchanged. The config gets the new
 * {@code intermediate_size}/{@code moe_intermediate_size}, the shared width where the family has a key for it, the new
 * head counts and, when {@code heads x head_dim != hidden} (or the config already states it), {@code head_dim}.
 */
public final class SlimWriter {
    /** Part of an input tensor viewed as {@code [blocks, rows, cols]}: the kept rows and columns of each block. */
    private record Gather(String src, int blocks, long rows, long cols, int[][] keepRows, int[][] keepCols) {
        int[] rowsOf(int b) {
            return keepRows == null ? null : keepRows.length == 1 ? keepRows[0] : keepRows[b];
        }

        int[] colsOf(int b) {
            return keepCols == null ? null : keepCols.length == 1 ? keepCols[0] : keepCols[b];
        }

        long outRows() {
            return keepRows == null ? rows : rowsOf(0).length;
        }

        long outCols() {
            return keepCols == null ? cols : colsOf(0).length;
        }
    }

    private SlimWriter() {}

    /** The output tensors for {@code sel} (in input order); a layout plan may pass {@link Selection#prefix}. */
    public static List<TensorSpec> tensors(List<TensorSpec> in, ModelSpec spec, Selection sel) {
        Map<String, Gather> g = gathers(in, spec, sel);
        return in.stream().map(t -> out(t, g.get(t.name()))).toList();
    }

    /** The config of the slimmed model. */
    public static ObjectNode config(ModelSpec spec, Selection sel) {
        ConfigWriter w = ConfigWriter.of(spec).set("expert_ffn", sel.ffn());
        if (sel.sharedFfn() > 0 && !Target.derivedShared(spec)) {
            w.set("shared_ffn", sel.sharedFfn());
        }
        if (sel.kvGroups() != spec.kvHeads()) {
            int rep = spec.heads() / spec.kvHeads();
            w.set("heads", sel.kvGroups() * rep).set("kv_heads", sel.kvGroups());
            boolean stated = spec.config().has(w.key("head_dim")) && !spec.config().get(w.key("head_dim")).isNull();
            if (stated || (long) sel.kvGroups() * rep * spec.headDim() != spec.hidden()) {
                w.set("head_dim", spec.headDim());
            }
        }
        return w.build();
    }

    /** Writes the slimmed checkpoint to {@code out} (shards cut at the input's largest); returns its tensor bytes. */
    public static long write(Checkpoint in, ModelSpec spec, Selection sel, Path out) {
        List<TensorSpec> specs = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
        Map<String, Gather> g = gathers(specs, spec, sel);
        List<TensorSpec> plan = specs.stream().map(t -> out(t, g.get(t.name()))).toList();
        long shard = in.shards().stream().mapToLong(SafetensorsFile::fileSize).max().orElse(CheckpointWriter.DEFAULT_MAX_SHARD);
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withMaxShardSize(Math.max(1, shard)), in.dir())) {
            for (TensorSpec t : plan) {
                Gather x = g.get(t.name());
                if (x == null) {
                    w.copy(t.name(), in.shard(t.name()), t.name());
                    continue;
                }
                try (Arena a = Arena.ofConfined()) {
                    w.write(t.name(), gather(in, x, t, a));
                }
            }
            w.copyOtherFiles(in);
            w.commit(config(spec, sel));
        }
        return plan.stream().mapToLong(TensorSpec::byteSize).sum();
    }

    private static TensorSpec out(TensorSpec t, Gather g) {
        if (g == null) {
            return t;
        }
        long[] s = t.shape();
        long[] o = switch (s.length) {
            case 1 -> new long[] {g.outRows()};
            case 2 -> new long[] {g.outRows(), g.outCols()};
            default -> new long[] {g.blocks(), g.outRows(), g.outCols()};
        };
        return new TensorSpec(t.name(), t.dtype(), o);
    }

    /** What each sliced tensor keeps. */
    private static Map<String, Gather> gathers(List<TensorSpec> in, ModelSpec spec, Selection sel) {
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        in.forEach(t -> byName.put(t.name(), t));
        Map<String, Gather> g = new LinkedHashMap<>();
        for (int l = 0; l < spec.layers(); l++) {
            LayerSpec ls = spec.layer(l);
            if (ls.moe()) {
                experts(byName, spec, ls, sel, g);
                if (ls.sharedFfn() > 0) {
                    int[][] k = {sel.shared()[l]};
                    put(g, byName, spec.name(Role.SHARED_GATE, l), 1, k, null);
                    put(g, byName, spec.name(Role.SHARED_UP, l), 1, k, null);
                    put(g, byName, spec.name(Role.SHARED_DOWN, l), 1, null, k);
                }
            }
            if (sel.kvGroups() != spec.kvHeads()) {
                attention(byName, spec, l, sel.groups()[l], g);
            }
        }
        return g;
    }

    private static void experts(Map<String, TensorSpec> byName, ModelSpec spec, LayerSpec ls, Selection sel, Map<String, Gather> g) {
        int l = ls.index();
        int[][] kept = sel.experts()[l];
        if (ls.expertFfn() == sel.ffn()) {
            return;                                         // nothing removed in this layer
        }
        if (spec.fusedExperts()) {
            int f = ls.expertFfn();
            int[][] gateUp = new int[kept.length][];
            for (int e = 0; e < kept.length; e++) {
                gateUp[e] = new int[2 * kept[e].length];
                for (int i = 0; i < kept[e].length; i++) {
                    gateUp[e][i] = kept[e][i];
                    gateUp[e][kept[e].length + i] = f + kept[e][i];
                }
            }
            put(g, byName, spec.name(Role.EXPERTS_GATE_UP, l), ls.experts(), gateUp, null);
            put(g, byName, spec.name(Role.EXPERTS_DOWN, l), ls.experts(), null, kept);
            return;
        }
        for (int e = 0; e < ls.experts(); e++) {
            int[][] k = {kept[e]};
            put(g, byName, spec.name(Role.EXPERT_GATE, l, e), 1, k, null);
            put(g, byName, spec.name(Role.EXPERT_UP, l, e), 1, k, null);
            put(g, byName, spec.name(Role.EXPERT_DOWN, l, e), 1, null, k);
        }
    }

    private static void attention(Map<String, TensorSpec> byName, ModelSpec spec, int l, int[] groups, Map<String, Gather> g) {
        int d = spec.headDim();
        int rep = spec.heads() / spec.kvHeads();
        int[][] q = {rows(groups, rep * d)};
        int[][] kv = {rows(groups, d)};
        put(g, byName, spec.name(Role.Q, l), 1, q, null);
        put(g, byName, spec.name(Role.K, l), 1, kv, null);
        put(g, byName, spec.name(Role.V, l), 1, kv, null);
        put(g, byName, spec.name(Role.O, l), 1, null, q);
        for (Role r : new Role[] {Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS}) {
            if (spec.holds(r) && byName.containsKey(spec.name(r, l))) {
                put(g, byName, spec.name(r, l), 1, r == Role.Q_BIAS ? q : kv, null);
            }
        }
        if (spec.family().traits().qkNorm() == Family.QkNormScope.ALL_HEADS) {
            for (Role r : new Role[] {Role.Q_NORM, Role.K_NORM}) {
                String n = spec.holds(r) ? spec.name(r, l) : null;
                if (n != null && byName.containsKey(n) && byName.get(n).shape()[0] != d) {
                    put(g, byName, n, 1, r == Role.Q_NORM ? q : kv, null);
                }
            }
        }
    }

    /** The rows of {@code groups}, each {@code width} rows wide. */
    private static int[] rows(int[] groups, int width) {
        int[] r = new int[groups.length * width];
        for (int i = 0; i < groups.length; i++) {
            for (int j = 0; j < width; j++) {
                r[i * width + j] = groups[i] * width + j;
            }
        }
        return r;
    }

    private static void put(Map<String, Gather> g, Map<String, TensorSpec> byName, String name, int blocks, int[][] keepRows, int[][] keepCols) {
        TensorSpec t = byName.get(name);
        if (t == null) {
            throw new CheckpointException("slim: the checkpoint lacks tensor '" + name + "'");
        }
        long[] s = t.shape();
        long rows;
        long cols;
        switch (s.length) {
            case 1 -> { rows = s[0]; cols = 1; }
            case 2 -> { rows = s[0]; cols = s[1]; }
            case 3 -> { rows = s[1]; cols = s[2]; }
            default -> throw new CheckpointException("slim: tensor '" + name + "' has shape " + Arrays.toString(s));
        }
        if ((s.length == 3 ? s[0] : 1) != blocks || (s.length == 1 && keepCols != null)) {
            throw new CheckpointException("slim: tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected " + blocks + " expert blocks");
        }
        check(name, s, keepRows, rows, blocks);
        check(name, s, keepCols, cols, blocks);
        g.put(name, new Gather(name, blocks, rows, cols, keepRows, keepCols));
    }

    private static void check(String name, long[] shape, int[][] keep, long n, int blocks) {
        if (keep == null) {
            return;
        }
        if (keep.length != 1 && keep.length != blocks) {
            throw new IllegalStateException("slim: '" + name + "': " + keep.length + " index lists for " + blocks + " blocks");
        }
        for (int[] k : keep) {
            if (k.length != keep[0].length) {
                throw new IllegalStateException("slim: '" + name + "': blocks keep different counts");
            }
            for (int i : k) {
                if (i < 0 || i >= n) {
                    throw new CheckpointException("slim: tensor '" + name + "' of shape " + Arrays.toString(shape) + " has no index " + i);
                }
            }
        }
    }

    /** The kept elements of {@code x}, bit-exact, into a new segment of {@code t}'s size. */
    private static MemorySegment gather(Checkpoint in, Gather x, TensorSpec t, Arena a) {
        MemorySegment src = in.map(x.src(), a);
        long es = t.dtype().size();
        MemorySegment dst = a.allocate(t.byteSize(), 8);
        long at = 0;
        for (int b = 0; b < x.blocks(); b++) {
            int[] rs = x.rowsOf(b);
            int[] cs = x.colsOf(b);
            long nr = rs == null ? x.rows() : rs.length;
            for (int i = 0; i < nr; i++) {
                long r = rs == null ? i : rs[i];
                long rowStart = ((long) b * x.rows() + r) * x.cols() * es;
                if (cs == null) {
                    MemorySegment.copy(src, rowStart, dst, at, x.cols() * es);
                    at += x.cols() * es;
                    continue;
                }
                for (int j = 0; j < cs.length; ) {      // runs of consecutive columns in one copy
                    int k = j + 1;
                    while (k < cs.length && cs[k] == cs[k - 1] + 1) {
                        k++;
                    }
                    long n = (long) (k - j) * es;
                    MemorySegment.copy(src, rowStart + cs[j] * es, dst, at, n);
                    at += n;
                    j = k;
                }
            }
        }
        if (at != t.byteSize()) {
            throw new IllegalStateException("slim: '" + x.src() + "': gathered " + at + " bytes, planned " + t.byteSize());
        }
        return dst;
    }
}
