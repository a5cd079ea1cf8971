package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.io.Text;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Checks the counts a config states against the tensors a checkpoint holds, at parse time: per MoE layer the
 * number of routed experts (per-expert tensors, the fused tensor's first dimension, the router's rows) and the
 * expert width; per dense layer the MLP's presence and width; the attention widths against q/k. Shapes of everything
 * else are {@link SpecChecker}'s job.
 *
 * <p>Before that, the sizes a config states are bounded by what the tensors can hold, so that nothing proportional to
 * a config value is allocated or looped over for a value the checkpoint cannot back: the layer count by the layer
 * indices in tensor names ({@link #checkLayers}), every width and count by the largest dimension of a tensor that
 * holds data ({@link #checkSizes}).
 */
final class TensorCounts {
    private TensorCounts() {}

    /**
     * The config's layer count against the distinct layer indices in the tensor names that the family's per-layer
     * templates match (a layer with some tensors missing still counts; {@link SpecChecker} reports what it lacks).
     */
    static void checkLayers(Family f, Checkpoint c, ConfigReader cfg, int layers) {
        int held = layerIndices(f, c).size();
        if (layers > held) {
            throw new CheckpointException(cfg.where() + ": key '" + cfg.keyOf("layers") + "' says " + layers
                    + " layers but the tensor names hold only " + held + " layer indices");
        }
    }

    /** Distinct layer indices that tensor names show, at the place {@code ${layer}} has in the family's templates. */
    static Set<Integer> layerIndices(Family f, Checkpoint c) {
        Set<String> prefixes = new LinkedHashSet<>();
        for (var templates : java.util.List.of(f.templates(), f.fusedTemplates())) {
            for (String t : templates.values()) {
                int i = t.indexOf("${layer}");
                if (i >= 0) {
                    prefixes.add(t.substring(0, i));
                }
            }
        }
        Set<Integer> out = new HashSet<>();
        for (String n : c.names()) {
            for (String p : prefixes) {
                if (!n.startsWith(p)) {
                    continue;
                }
                int end = p.length();
                while (end < n.length() && end - p.length() < 10 && Character.isDigit(n.charAt(end)) && n.charAt(end) < 128) {
                    end++;
                }
                if (end > p.length() && end - p.length() < 10) {
                    out.add(Integer.parseInt(n, p.length(), end, 10));
                }
            }
        }
        return out;
    }

    /**
     * Every width and count of {@code spec} against the largest dimension of a tensor holding data (such a dimension is
     * at most the file's size): hidden, vocab, heads, kv heads and head_dim and their products, expert and MLP widths,
     * expert counts, MLA ranks. A zero-element tensor does not count, its dimensions need no bytes.
     */
    static void checkSizes(ModelSpec spec, Checkpoint c, ConfigReader cfg) {
        long max = 0;
        for (String n : c.names()) {
            TensorInfo t = c.info(n);
            if (t.numel() > 0) {
                for (long d : t.shape()) {
                    max = Math.max(max, d);
                }
            }
        }
        Bound b = new Bound(cfg, max);
        b.key("hidden", spec.hidden());
        b.key("vocab", spec.vocab());
        b.key("heads", spec.heads());
        b.key("kv_heads", spec.kvHeads());
        ModelSpec.Mla m = spec.mla();
        if (m == null) {
            b.key("head_dim", spec.headDim());
            b.product("heads", spec.heads(), "head_dim", spec.headDim());
            b.product("kv_heads", spec.kvHeads(), "head_dim", spec.headDim());
        } else {
            b.key("q_lora_rank", m.qLoraRank());
            b.key("kv_lora_rank", m.kvLoraRank());
            b.key("qk_rope_head_dim", m.qkRopeHeadDim());
            b.key("qk_nope_head_dim", m.qkNopeHeadDim());
            b.key("v_head_dim", m.vHeadDim());
            b.product("heads", spec.heads(), "qk_nope_head_dim + qk_rope_head_dim", m.qkHeadDim());
            b.product("heads", spec.heads(), "qk_nope_head_dim + v_head_dim", (long) m.qkNopeHeadDim() + m.vHeadDim());
        }
        for (LayerSpec ls : spec.layerSpecs()) {
            if (ls.moe()) {
                b.key("num_experts", ls.experts());
                b.key("expert_ffn", ls.expertFfn());
                if (cfg.knows("shared_ffn")) {
                    b.key("shared_ffn", ls.sharedFfn());
                } else {
                    b.product("shared_experts", ls.sharedExperts(), "expert_ffn", ls.expertFfn());
                }
            } else {
                b.key("ffn", ls.ffn());
            }
        }
        checkAttention(spec, c, cfg);
    }

    private record Bound(ConfigReader cfg, long max) {
        void key(String logical, long v) {
            if (v > max) {
                throw new CheckpointException(cfg.where() + ": key '" + cfg.keyOf(logical) + "' = " + v + " is larger than any"
                        + " tensor of the checkpoint can hold (largest dimension of a tensor with data: " + max + ")");
            }
        }

        void product(String a, long va, String b, long vb) {
            long p = va * vb; // both below 2^31: exact
            if (p > max) {
                throw new CheckpointException(cfg.where() + ": " + cfg.keyOf(a) + " " + va + " x " + keyOrSum(b) + " " + vb + " = " + p
                        + " is larger than any tensor of the checkpoint can hold (largest dimension of a tensor with data: " + max + ")");
            }
        }

        private String keyOrSum(String b) {
            return b.contains(" ") ? b : cfg.keyOf(b);
        }
    }

    /** The query (and key) projection's rows against heads x head_dim, in every layer that holds them. */
    private static void checkAttention(ModelSpec spec, Checkpoint c, ConfigReader cfg) {
        ModelSpec.Mla m = spec.mla();
        Role q = m == null ? Role.Q : m.qLoraRank() > 0 ? Role.Q_B : Role.Q;
        long qRows = (long) spec.heads() * spec.headDim();
        for (int l = 0; l < spec.layers(); l++) {
            rows(spec, c, cfg, q, l, qRows, cfg.keyOf("heads") + " " + spec.heads() + " x head_dim " + spec.headDim());
            if (m == null) {
                rows(spec, c, cfg, Role.K, l, (long) spec.kvHeads() * spec.headDim(),
                        cfg.keyOf("kv_heads") + " " + spec.kvHeads() + " x head_dim " + spec.headDim());
            }
        }
    }

    private static void rows(ModelSpec spec, Checkpoint c, ConfigReader cfg, Role role, int layer, long want, String why) {
        if (!spec.family().has(role)) {
            return;
        }
        String n = spec.name(role, layer);
        if (c.has(n) && dim0(c, n, cfg) != want) {
            throw new CheckpointException(cfg.where() + ": " + why + " = " + want + " but tensor " + Text.quote(n) + " has shape "
                    + c.info(n).shapeString());
        }
    }

    /** The first dimension of a tensor that must be at least a vector. */
    private static long dim0(Checkpoint c, String n, ConfigReader cfg) {
        TensorInfo t = c.info(n);
        if (t.rank() < 1) {
            throw new CheckpointException(cfg.where() + ": tensor " + Text.quote(n) + " is a scalar (shape []), expected a vector or matrix");
        }
        return t.dim(0);
    }

    static void check(ModelSpec spec, Checkpoint c, ConfigReader cfg) {
        for (LayerSpec ls : spec.layerSpecs()) {
            if (ls.moe()) {
                checkMoe(spec, c, cfg, ls);
            } else {
                checkDense(spec, c, cfg, ls);
            }
        }
    }

    private static void checkMoe(ModelSpec spec, Checkpoint c, ConfigReader cfg, LayerSpec ls) {
        int l = ls.index();
        String key = cfg.keyOf("num_experts");
        String router = require(spec, c, Role.ROUTER, l, cfg.where() + " makes layer " + l + " a MoE layer");
        long rows = dim0(c, router, cfg);
        if (spec.fusedExperts()) {
            String gu = require(spec, c, Role.EXPERTS_GATE_UP, l, cfg.where() + " makes layer " + l + " a MoE layer");
            TensorInfo t = c.info(gu);
            if (t.rank() != 3 || t.dim(0) != ls.experts()) {
                throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                        + " but tensor " + Text.quote(gu) + " has shape " + t.shapeString());
            }
            if (t.dim(1) != 2L * ls.expertFfn()) {
                throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("expert_ffn") + " says " + ls.expertFfn()
                        + " but tensor " + Text.quote(gu) + " has shape " + t.shapeString() + " (expected [E, 2*ffn, hidden])");
            }
        } else {
            int held = 0;
            while (c.has(spec.name(Role.EXPERT_UP, l, held))) {
                held++;
            }
            if (held != ls.experts()) {
                String probe = spec.name(Role.EXPERT_UP, l, Math.min(held, ls.experts()));
                throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                        + " but the checkpoint holds " + held + " (tensor " + Text.quote(probe) + " "
                        + (held < ls.experts() ? "is missing)" : "exists)"));
            }
            String up0 = spec.name(Role.EXPERT_UP, l, 0);
            if (dim0(c, up0, cfg) != ls.expertFfn()) {
                throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("expert_ffn") + " says " + ls.expertFfn()
                        + " but tensor " + Text.quote(up0) + " has shape " + c.info(up0).shapeString());
            }
        }
        if (rows != ls.experts()) {
            throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                    + " but router tensor " + Text.quote(router) + " has " + rows + " rows");
        }
        if (ls.sharedExperts() > 0) {
            String up = require(spec, c, Role.SHARED_UP, l, cfg.where() + " declares shared experts");
            if (dim0(c, up, cfg) != ls.sharedFfn()) {
                throw new CheckpointException(cfg.where() + ": shared expert width " + ls.sharedFfn() + " disagrees with tensor "
                        + Text.quote(up) + " of shape " + c.info(up).shapeString());
            }
        }
    }

    private static void checkDense(ModelSpec spec, Checkpoint c, ConfigReader cfg, LayerSpec ls) {
        if (!spec.family().has(Role.MLP_UP)) {
            return;
        }
        String up = require(spec, c, Role.MLP_UP, ls.index(), cfg.where() + " makes layer " + ls.index() + " dense");
        if (dim0(c, up, cfg) != ls.ffn()) {
            throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("ffn") + " says " + ls.ffn() + " but tensor " + Text.quote(up)
                    + " has shape " + c.info(up).shapeString());
        }
    }

    private static String require(ModelSpec spec, Checkpoint c, Role role, int layer, String why) {
        String n = spec.name(role, layer);
        if (!c.has(n)) {
            throw new CheckpointException(why + " but tensor " + Text.quote(n) + " is missing");
        }
        return n;
    }
}
