package dev.moekit.toolkit.testing;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.FamilyRegistry;
import java.nio.file.Path;

/**
 * Options of a tiny checkpoint, as a fluent builder: {@code TinyCheckpoints.builder("olmoe").experts(4).write(dir)}.
 * Defaults: 2 layers, hidden 32, 4 heads / 2 KV heads, vocab 64, 8 experts top-2 of width 16, dense MLP width 48,
 * bf16, per-expert layout, seed 0, transformers 4.x config dialect, shards of at most 16 KiB; plus what makes each
 * family itself (q/k/v biases for Qwen2 and Phi-3.5-MoE, q/k norms for Qwen3-MoE and OLMoE, a gated shared expert
 * for Qwen2-MoE, one dense first layer and shared experts for DeepSeek, MLA and sigmoid group routing with a
 * correction bias for DeepSeek-V3).
 */
public final class TinyOptions {
    String family;
    int layers = 2;
    int hidden = 32;
    int heads = 4;
    int kvHeads = 2;
    int vocab = 64;
    int headDim;
    int experts = 8;
    int[] perLayerExperts;
    int topK = 2;
    int expertFfn = 16;
    int ffn = 48;
    DType dtype = DType.BF16;
    boolean fused;
    long seed;
    int sharedExperts;
    int sharedFfn;
    boolean sharedExpertGate;
    int firstDense;
    boolean qkvBias;
    boolean outputBias;
    boolean qkNorm;
    boolean tiedEmbeddings;
    boolean correctionBias;
    String scoring;
    Boolean renormalize;
    int groups = 1;
    int topkGroups = 1;
    boolean transformers5;
    long maxShardBytes = 16 << 10;
    double std = 0.02;
    int qLoraRank;
    int kvLoraRank = 16;
    int qkNopeHeadDim = 8;
    int qkRopeHeadDim = 8;
    int vHeadDim = 8;

    private TinyOptions(String family) {
        this.family = FamilyRegistry.standard().byName(family).name();
    }

    /** The defaults of {@code family} (see the class comment). */
    public static TinyOptions defaults(String family) {
        TinyOptions o = new TinyOptions(family);
        if (!FamilyRegistry.standard().byName(family).traits().moe()) {
            o.experts = 0;
        }
        switch (family) {
            case "qwen2" -> o.qkvBias = true;
            case "qwen2_moe" -> {
                o.qkvBias = true;
                o.sharedExperts = 1;
                o.sharedFfn = 24;
                o.sharedExpertGate = true;
            }
            case "qwen3_moe", "olmoe" -> o.qkNorm = true;
            case "deepseek" -> {
                o.sharedExperts = 2;
                o.firstDense = 1;
            }
            case "deepseek_v3" -> {
                o.sharedExperts = 1;
                o.firstDense = 1;
                o.correctionBias = true;
                o.scoring = "sigmoid";
                o.renormalize = true;
                o.groups = 2;
                o.topkGroups = 1;
                o.qLoraRank = 16;
            }
            case "phimoe" -> {
                o.qkvBias = true;
                o.outputBias = true;
            }
            default -> { }
        }
        return o;
    }

    /** Writes the checkpoint into {@code dir} (replaced if it exists) and returns {@code dir}. */
    public Path write(Path dir) {
        return TinyCheckpoints.write(this, dir);
    }

    public TinyOptions layers(int v) { layers = v; return this; }
    public TinyOptions hidden(int v) { hidden = v; return this; }
    public TinyOptions heads(int v, int kv) { heads = v; kvHeads = kv; return this; }
    public TinyOptions vocab(int v) { vocab = v; return this; }
    /** An explicit {@code head_dim} (0: none written, so hidden / heads). */
    public TinyOptions headDim(int v) { headDim = v; return this; }
    /** DeepSeek-V2/V3 latent attention sizes; {@code qLoraRank} 0 writes {@code q_lora_rank: null} (plain q_proj). */
    public TinyOptions mla(int qLora, int kvLora, int nope, int rope, int v) {
        qLoraRank = qLora; kvLoraRank = kvLora; qkNopeHeadDim = nope; qkRopeHeadDim = rope; vHeadDim = v; return this;
    }
    /** Router scoring as the config spells it ({@code softmax}, {@code sigmoid}); null for the family default. */
    public TinyOptions scoring(String v) { scoring = v; return this; }
    /** DeepSeek-V3 {@code e_score_correction_bias} tensors. */
    public TinyOptions correctionBias(boolean v) { correctionBias = v; return this; }
    /** Group-limited routing: {@code n_group}, {@code topk_group}. */
    public TinyOptions groups(int n, int topk) { groups = n; topkGroups = topk; return this; }
    public TinyOptions experts(int v) { experts = v; return this; }
    /** A per-layer list of routed experts, written as a JSON list (STUN-style non-uniform output). */
    public TinyOptions perLayerExperts(int... v) { perLayerExperts = v.clone(); return this; }
    public TinyOptions topK(int v) { topK = v; return this; }
    public TinyOptions expertFfn(int v) { expertFfn = v; return this; }
    /** Width of dense MLPs (dense families and dense layers). */
    public TinyOptions ffn(int v) { ffn = v; return this; }
    public TinyOptions dtype(DType v) { dtype = v; return this; }
    public TinyOptions fused(boolean v) { fused = v; return this; }
    public TinyOptions seed(long v) { seed = v; return this; }
    /** Shared experts: count (DeepSeek {@code n_shared_experts}) and, for Qwen2-MoE, the shared width (0: count * expert ffn). */
    public TinyOptions sharedExperts(int count, int width, boolean gate) { sharedExperts = count; sharedFfn = width; sharedExpertGate = gate; return this; }
    /** Leading dense layers (DeepSeek {@code first_k_dense_replace}, Qwen {@code mlp_only_layers}). */
    public TinyOptions firstDense(int v) { firstDense = v; return this; }
    public TinyOptions qkvBias(boolean v) { qkvBias = v; return this; }
    public TinyOptions qkNorm(boolean v) { qkNorm = v; return this; }
    public TinyOptions tiedEmbeddings(boolean v) { tiedEmbeddings = v; return this; }
    public TinyOptions renormalize(boolean v) { renormalize = v; return this; }
    public TinyOptions transformers5(boolean v) { transformers5 = v; return this; }
    public TinyOptions maxShardBytes(long v) { maxShardBytes = v; return this; }
    public TinyOptions std(double v) { std = v; return this; }

    public String family() { return family; }
    public long seed() { return seed; }
    public DType dtype() { return dtype; }
    public boolean fused() { return fused; }
    public boolean tiedEmbeddings() { return tiedEmbeddings; }
    public boolean qkvBias() { return qkvBias; }
    public boolean outputBias() { return outputBias; }
    public boolean qkNorm() { return qkNorm; }
    public boolean sharedExpertGate() { return sharedExpertGate && sharedExperts > 0; }
    public boolean correctionBias() { return correctionBias; }
    public long maxShardBytes() { return maxShardBytes; }
    public double std() { return std; }
}
