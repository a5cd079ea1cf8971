package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors a {@link ModelSpec} declares, with their HF shapes ({@code [out, in]} for linears), in checkpoint order
 * (embedding, then layer by layer, then final norm and lm_head). Optional roles appear only where the spec holds them.
 *
 * <p>Shapes, with {@code d} = head_dim, {@code H} = hidden, {@code E} = experts, {@code F} = expert ffn:
 * q {@code [heads*d, H]}, k/v {@code [kv*d, H]}, o {@code [H, heads*d]}; q/k norm {@code [d]} (per head) or
 * {@code [heads*d]}/{@code [kv*d]} (over all heads); router {@code [E, H]}; experts gate/up {@code [F, H]}, down
 * {@code [H, F]}, fused {@code [E, 2F, H]} and {@code [E, H, F]}; shared-expert gate {@code [1, H]}; MLA: q_a
 * {@code [q_lora, H]}, q_b {@code [heads*(nope+rope), q_lora]}, kv_a {@code [kv_lora+rope, H]}, kv_b
 * {@code [heads*(nope+v), kv_lora]}, o {@code [H, heads*v]}; BAM (moekit_bam): attention router {@code [A, H]}, per
 * attention expert q {@code [heads*d, H]}, k/v {@code [kv*d, H]} (Expert-KV only; Shared-KV uses the layer's k/v) and o
 * {@code [H, heads*d]}.
 */
public final class TensorLayout {
    /** One declared tensor and what it is. {@code layer}/{@code expert} are -1 where not applicable. */
    public record Planned(Role role, int layer, int expert, TensorSpec tensor) {
        public String name() {
            return tensor.name();
        }
    }

    private TensorLayout() {}

    /** Every tensor {@code spec} declares, in the spec's dtype (the DeepSeek-V3 correction bias in fp32). */
    public static List<Planned> expected(ModelSpec spec) {
        List<Planned> out = new ArrayList<>();
        Adder add = new Adder(spec, out);
        int h = spec.hidden();
        add.model(Role.EMBED, spec.vocab(), h);
        for (LayerSpec ls : spec.layerSpecs()) {
            int l = ls.index();
            add.layer(Role.INPUT_NORM, l, h);
            add.layer(Role.INPUT_NORM_BIAS, l, h);
            attention(spec, add, l);
            add.layer(Role.POST_ATTN_NORM, l, h);
            add.layer(Role.POST_ATTN_NORM_BIAS, l, h);
            if (ls.moe()) {
                moe(spec, add, ls);
            } else {
                add.layer(Role.MLP_GATE, l, ls.ffn(), h);
                add.layer(Role.MLP_UP, l, ls.ffn(), h);
                add.layer(Role.MLP_DOWN, l, h, ls.ffn());
            }
        }
        add.model(Role.FINAL_NORM, h);
        add.model(Role.FINAL_NORM_BIAS, h);
        add.model(Role.LM_HEAD, spec.vocab(), h);
        add.model(Role.LM_HEAD_BIAS, spec.vocab());
        return out;
    }

    private static void attention(ModelSpec spec, Adder add, int l) {
        int h = spec.hidden();
        int heads = spec.heads();
        ModelSpec.Mla m = spec.mla();
        if (m != null) {
            if (m.qLoraRank() > 0) {
                add.layer(Role.Q_A, l, m.qLoraRank(), h);
                add.layer(Role.Q_A_NORM, l, m.qLoraRank());
                add.layer(Role.Q_B, l, (long) heads * m.qkHeadDim(), m.qLoraRank());
            } else {
                add.layer(Role.Q, l, (long) heads * m.qkHeadDim(), h);
            }
            add.layer(Role.KV_A, l, (long) m.kvLoraRank() + m.qkRopeHeadDim(), h);
            add.layer(Role.KV_A_NORM, l, m.kvLoraRank());
            add.layer(Role.KV_B, l, (long) heads * ((long) m.qkNopeHeadDim() + m.vHeadDim()), m.kvLoraRank());
            add.layer(Role.O, l, h, (long) heads * m.vHeadDim());
            return;
        }
        long q = (long) heads * spec.headDim(); // long: a config cannot overflow a width into a negative one
        long kv = (long) spec.kvHeads() * spec.headDim();
        add.layer(Role.Q, l, q, h);
        add.layer(Role.Q_BIAS, l, q);
        add.layer(Role.K, l, kv, h);
        add.layer(Role.K_BIAS, l, kv);
        add.layer(Role.V, l, kv, h);
        add.layer(Role.V_BIAS, l, kv);
        add.layer(Role.O, l, h, q);
        add.layer(Role.O_BIAS, l, h);
        boolean perHead = spec.family().traits().qkNorm() == Family.QkNormScope.HEAD;
        add.layer(Role.Q_NORM, l, perHead ? spec.headDim() : q);
        add.layer(Role.K_NORM, l, perHead ? spec.headDim() : kv);
        int experts = spec.attentionExperts();
        if (experts > 0) {                                   // BAM: router, then each attention expert's projections
            add.layer(Role.ATTN_ROUTER, l, experts, h);
            for (int a = 0; a < experts; a++) {
                add.add(Role.ATTN_EXPERT_Q, l, a, spec.dtype(), q, h);
                if (!spec.sharedKv()) {
                    add.add(Role.ATTN_EXPERT_K, l, a, spec.dtype(), kv, h);
                    add.add(Role.ATTN_EXPERT_V, l, a, spec.dtype(), kv, h);
                }
                add.add(Role.ATTN_EXPERT_O, l, a, spec.dtype(), h, q);
            }
        }
    }

    private static void moe(ModelSpec spec, Adder add, LayerSpec ls) {
        int l = ls.index();
        int h = spec.hidden();
        int e = ls.experts();
        int f = ls.expertFfn();
        add.layer(Role.ROUTER, l, e, h);
        if (spec.holds(Role.ROUTER_CORRECTION_BIAS)) {
            add.add(Role.ROUTER_CORRECTION_BIAS, l, -1, DType.F32, e);
        }
        if (spec.fusedExperts()) {
            add.layer(Role.EXPERTS_GATE_UP, l, e, 2L * f, h);
            add.layer(Role.EXPERTS_DOWN, l, e, h, f);
        } else {
            for (int x = 0; x < e; x++) {
                add.add(Role.EXPERT_GATE, l, x, spec.dtype(), f, h);
                add.add(Role.EXPERT_UP, l, x, spec.dtype(), f, h);
                add.add(Role.EXPERT_DOWN, l, x, spec.dtype(), h, f);
            }
        }
        CompressedExperts ce = CompressedExperts.of(spec);
        if (ce.enabled()) {
            add.layer(Role.CES, l, ce.shape(spec, ls));
        }
        if (ls.sharedExperts() > 0) {
            add.layer(Role.SHARED_GATE, l, ls.sharedFfn(), h);
            add.layer(Role.SHARED_UP, l, ls.sharedFfn(), h);
            add.layer(Role.SHARED_DOWN, l, h, ls.sharedFfn());
            if (ls.sharedExpertGate()) {
                add.layer(Role.SHARED_EXPERT_GATE, l, 1, h);
            }
        }
    }

    /** Adds a role's tensor when the spec holds the role (present, or non-optional in the family). */
    private record Adder(ModelSpec spec, List<Planned> out) {
        void model(Role r, long... shape) {
            add(r, -1, -1, spec.dtype(), shape);
        }

        void layer(Role r, int layer, long... shape) {
            add(r, layer, -1, spec.dtype(), shape);
        }

        void add(Role r, int layer, int expert, DType dtype, long... shape) {
            if (r == Role.SHARED_EXPERT_GATE ? spec.family().has(r) : spec.holds(r)) {
                out.add(new Planned(r, layer, expert, new TensorSpec(spec.family().name(r, layer, expert), dtype, shape)));
            }
        }
    }
}
