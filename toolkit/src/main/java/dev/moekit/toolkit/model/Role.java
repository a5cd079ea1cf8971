package dev.moekit.toolkit.model;

/**
 * What a tensor is for. Family descriptions map each role to a tensor-name template; code never spells tensor names.
 * Per-expert roles take an expert index; fused roles hold all experts of a layer in one 3-D tensor.
 */
public enum Role {
    // model-level
    EMBED(Kind.EMBEDDING), FINAL_NORM(Kind.NORM), LM_HEAD(Kind.EMBEDDING),
    // model-level biases (LayerNorm families such as Phi-3.5-MoE)
    FINAL_NORM_BIAS(Kind.NORM), LM_HEAD_BIAS(Kind.EMBEDDING),
    // per layer: norms (and their biases for LayerNorm families)
    INPUT_NORM(Kind.NORM), POST_ATTN_NORM(Kind.NORM), INPUT_NORM_BIAS(Kind.NORM), POST_ATTN_NORM_BIAS(Kind.NORM),
    // per layer: attention
    Q(Kind.ATTENTION), K(Kind.ATTENTION), V(Kind.ATTENTION), O(Kind.ATTENTION),
    Q_BIAS(Kind.ATTENTION), K_BIAS(Kind.ATTENTION), V_BIAS(Kind.ATTENTION), O_BIAS(Kind.ATTENTION),
    Q_NORM(Kind.NORM), K_NORM(Kind.NORM),
    // per layer: DeepSeek-V2/V3 multi-head latent attention (O is shared with standard attention; Q is q_proj when
    // q_lora_rank is null): q_a [q_lora, hidden], q_a_norm [q_lora], q_b [heads*(nope+rope), q_lora],
    // kv_a [kv_lora+rope, hidden] (kv_a_proj_with_mqa), kv_a_norm [kv_lora], kv_b [heads*(nope+v), kv_lora]
    Q_A(Kind.ATTENTION), Q_A_NORM(Kind.NORM), Q_B(Kind.ATTENTION), KV_A(Kind.ATTENTION), KV_A_NORM(Kind.NORM),
    KV_B(Kind.ATTENTION),
    // per layer: dense MLP (dense models and dense layers of MoE models)
    MLP_GATE(Kind.DENSE_MLP), MLP_UP(Kind.DENSE_MLP), MLP_DOWN(Kind.DENSE_MLP),
    // per layer: router
    ROUTER(Kind.ROUTER), ROUTER_BIAS(Kind.ROUTER), ROUTER_CORRECTION_BIAS(Kind.ROUTER),
    // per layer and expert: routed experts, [ffn, hidden] for gate/up and [hidden, ffn] for down
    EXPERT_GATE(Kind.ROUTED_EXPERT), EXPERT_UP(Kind.ROUTED_EXPERT), EXPERT_DOWN(Kind.ROUTED_EXPERT),
    // per layer: routed experts fused into 3-D tensors ([E, 2*ffn, hidden] gate+up, [E, hidden, ffn] down)
    EXPERTS_GATE_UP(Kind.ROUTED_EXPERT), EXPERTS_DOWN(Kind.ROUTED_EXPERT),
    // per layer: shared experts and the shared expert's sigmoid gate ([1, hidden])
    SHARED_GATE(Kind.SHARED_EXPERT), SHARED_UP(Kind.SHARED_EXPERT), SHARED_DOWN(Kind.SHARED_EXPERT),
    SHARED_EXPERT_GATE(Kind.SHARED_EXPERT),
    // per layer: compressed experts' vectors ([E, 3, hidden] or [E, 2*hidden + ffn]; see CompressedExperts)
    CES(Kind.ROUTED_EXPERT),
    // per layer: BAM's soft mixture of attention experts (family moekit_bam): the attention router [A, hidden] and, per
    // attention expert, q [heads*d, hidden], k/v [kv*d, hidden] (absent with shared K/V: the layer's K and V serve
    // every expert), o [hidden, heads*d]
    ATTN_ROUTER(Kind.ROUTER), ATTN_EXPERT_Q(Kind.ATTENTION), ATTN_EXPERT_K(Kind.ATTENTION), ATTN_EXPERT_V(Kind.ATTENTION),
    ATTN_EXPERT_O(Kind.ATTENTION);

    /** Coarse grouping used for byte accounting and selectors. */
    public enum Kind { EMBEDDING, NORM, ATTENTION, DENSE_MLP, ROUTER, ROUTED_EXPERT, SHARED_EXPERT }

    private final Kind kind;

    Role(Kind kind) {
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    public boolean perExpert() {
        return this == EXPERT_GATE || this == EXPERT_UP || this == EXPERT_DOWN;
    }

    /** One attention expert's projection (BAM); its template takes an expert index like the routed experts'. */
    public boolean perAttentionExpert() {
        return this == ATTN_EXPERT_Q || this == ATTN_EXPERT_K || this == ATTN_EXPERT_V || this == ATTN_EXPERT_O;
    }

    /** Whether the role's tensors are indexed by an expert (routed or attention expert). */
    public boolean indexed() {
        return perExpert() || perAttentionExpert();
    }

    public boolean perLayer() {
        return this != EMBED && this != FINAL_NORM && this != LM_HEAD && this != FINAL_NORM_BIAS && this != LM_HEAD_BIAS;
    }

    /** Routed experts fused into one 3-D tensor per layer. */
    public boolean fused() {
        return this == EXPERTS_GATE_UP || this == EXPERTS_DOWN;
    }
}
