# Written by moekit (module upcycle) into every BAM checkpoint; loaded by transformers with trust_remote_code=True.
"""Configuration of moekit's BAM (Branch-Attend-Mix, Zhang et al. 2024, arXiv 2408.08274) checkpoints."""
try:
    from transformers import PreTrainedConfig
except ImportError:  # transformers 4.x
    from transformers import PretrainedConfig as PreTrainedConfig


class MoekitBamConfig(PreTrainedConfig):
    """A Mixtral-shaped decoder whose attention is a soft mixture of `num_attention_experts` attention experts.

    Each layer: h = h + MoA(norm1(h)); h = h + MoE(norm2(h)) (sequential), or with `parallel_attention`
    h = h + MoA(norm1(h)) + MoE(norm2(h)). MoA(x) = sum_a softmax(router(x))_a * Attn_a(x); with
    `attention_shared_kv` the experts share one k_proj/v_proj and own q_proj/o_proj. MoE is Mixtral's softmax top-k
    router (top-k weights renormalised) over SwiGLU experts w1 (gate), w3 (up), w2 (down).
    """

    model_type = "moekit_bam"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(self, vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=8, head_dim=None, max_position_embeddings=4096,
                 rms_norm_eps=1e-5, rope_theta=None, rope_parameters=None, num_local_experts=8, num_experts_per_tok=2,
                 num_attention_experts=4, attention_shared_kv=False, parallel_attention=False,
                 initializer_range=0.02, hidden_act="silu", tie_word_embeddings=False, pad_token_id=None,
                 bos_token_id=1, eos_token_id=2, use_cache=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads if num_key_value_heads is not None else num_attention_heads
        self.head_dim = head_dim if head_dim is not None else hidden_size // num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        theta = rope_theta
        if theta is None and isinstance(rope_parameters, dict):
            theta = rope_parameters.get("rope_theta")
        self.rope_theta = float(theta if theta is not None else 10000.0)
        self.rope_parameters = {"rope_theta": self.rope_theta, "rope_type": "default"}
        self.num_local_experts = num_local_experts
        self.num_experts_per_tok = num_experts_per_tok
        self.num_attention_experts = num_attention_experts
        self.attention_shared_kv = bool(attention_shared_kv)
        self.parallel_attention = bool(parallel_attention)
        self.initializer_range = initializer_range
        self.hidden_act = hidden_act
        self.use_cache = False  # no KV cache: every forward recomputes the whole sequence
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
