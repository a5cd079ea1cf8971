package dev.moekit.toolkit.model;

/**
 * What a tensor is for. Family descriptions map each role to a tensor-name template; code never spells tensor names.
 * Per-expert roles take an expert index; fused roles hold all experts of a layer in one 3-D tensor.
 */
public enum Role {
    // model-level
    EMBED(Kind.EMBEDDING), FINAL_NORM(Kind.NORM), LM_HEAD(Kind.EMBEDDING),
    // per layer: norms
    INPUT_NORM(Kind.NORM), POST_ATTN_NORM(Kind.NORM),
    // per layer: attention
    Q(Kind.ATTENTION), K(Kind.ATTENTION), V(Kind.ATTENTION), O(Kind.ATTENTION),
    Q_BIAS(Kind.ATTENTION), K_BIAS(Kind.ATTENTION), V_BIAS(Kind.ATTENTION), O_BIAS(Kind.ATTENTION),
    Q_NORM(Kind.NORM), K_NORM(Kind.NORM),
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
    SHARED_EXPERT_GATE(Kind.SHARED_EXPERT);

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

    public boolean perLayer() {
        return this != EMBED && this != FINAL_NORM && this != LM_HEAD;
    }
}
