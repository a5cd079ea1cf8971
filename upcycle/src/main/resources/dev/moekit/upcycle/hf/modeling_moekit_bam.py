# Written by moekit (module upcycle) into every BAM checkpoint; loaded by transformers with trust_remote_code=True.
"""moekit's BAM decoder (Branch-Attend-Mix, Zhang et al. 2024, arXiv 2408.08274) in PyTorch.

Tensor names follow the checkpoint: model.embed_tokens, model.layers.L.{input_layernorm, post_attention_layernorm},
model.layers.L.self_attn.router (the attention router [A, hidden]), model.layers.L.self_attn.experts.a.{q,k,v,o}_proj
(Expert-KV) or self_attn.experts.a.{q,o}_proj with a shared self_attn.{k,v}_proj (Shared-KV),
model.layers.L.block_sparse_moe.gate and .experts.e.{w1,w2,w3}, model.norm, lm_head.

The maths is the one moekit's own runtime runs (eval/.../runtime: Attention.mixture, FeedForward, Router): RMSNorm
in fp32, rotary embeddings (rotate-half, default rope), attention softmax and both routers' softmax in fp32. No KV
cache: generation recomputes the sequence each step (use_cache is off).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_moekit_bam import MoekitBamConfig


class MoekitBamRMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary(config, positions, device, dtype):
    """cos, sin [T, d] for positions [T]."""
    d = config.head_dim
    inv = 1.0 / (config.rope_theta ** (torch.arange(0, d, 2, device=device, dtype=torch.float32) / d))
    freqs = positions.float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


class MoekitBamAttentionExpert(nn.Module):
    """One attention expert's projections (Shared-KV: q and o only)."""

    def __init__(self, config, own_kv):
        super().__init__()
        q = config.num_attention_heads * config.head_dim
        kv = config.num_key_value_heads * config.head_dim
        self.q_proj = nn.Linear(config.hidden_size, q, bias=False)
        if own_kv:
            self.k_proj = nn.Linear(config.hidden_size, kv, bias=False)
            self.v_proj = nn.Linear(config.hidden_size, kv, bias=False)
        self.o_proj = nn.Linear(q, config.hidden_size, bias=False)


class MoekitBamMixtureOfAttention(nn.Module):
    """sum_a softmax(router(x))_a * Attn_a(x): every token through every attention expert."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        shared = config.attention_shared_kv
        kv = config.num_key_value_heads * config.head_dim
        self.router = nn.Linear(config.hidden_size, config.num_attention_experts, bias=False)
        self.experts = nn.ModuleList(MoekitBamAttentionExpert(config, not shared)
                                     for _ in range(config.num_attention_experts))
        if shared:
            self.k_proj = nn.Linear(config.hidden_size, kv, bias=False)
            self.v_proj = nn.Linear(config.hidden_size, kv, bias=False)

    def attend(self, x, expert, cos, sin, mask):
        c = self.config
        b, t, _ = x.shape
        h, kvh, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        k_proj = self.k_proj if c.attention_shared_kv else expert.k_proj
        v_proj = self.v_proj if c.attention_shared_kv else expert.v_proj
        q = expert.q_proj(x).view(b, t, h, d).transpose(1, 2)
        k = k_proj(x).view(b, t, kvh, d).transpose(1, 2)
        v = v_proj(x).view(b, t, kvh, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kvh != h:
            k = k.repeat_interleave(h // kvh, dim=1)
            v = v.repeat_interleave(h // kvh, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)).float() / math.sqrt(d) + mask
        probs = scores.softmax(-1).to(x.dtype)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, h * d)
        return expert.o_proj(ctx)

    def forward(self, x, cos, sin, mask):
        weights = self.router(x).float().softmax(-1).to(x.dtype)          # [B, T, A]
        out = None
        for a, expert in enumerate(self.experts):
            part = self.attend(x, expert, cos, sin, mask) * weights[..., a:a + 1]
            out = part if out is None else out + part
        return out


class MoekitBamExpert(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoekitBamSparseMoe(nn.Module):
    """Mixtral's block: softmax over experts in fp32, top-k, weights renormalised, SwiGLU experts."""

    def __init__(self, config):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.gate = nn.Linear(config.hidden_size, config.num_local_experts, bias=False)
        self.experts = nn.ModuleList(MoekitBamExpert(config) for _ in range(config.num_local_experts))

    def forward(self, x):
        b, t, hidden = x.shape
        flat = x.reshape(-1, hidden)
        probs = self.gate(flat).float().softmax(-1)
        top, idx = probs.topk(self.top_k, dim=-1)
        top = (top / top.sum(-1, keepdim=True)).to(x.dtype)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            out.index_add_(0, rows, expert(flat[rows]) * top[rows, slot, None])
        return out.view(b, t, hidden)


class MoekitBamDecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.parallel = config.parallel_attention
        self.input_layernorm = MoekitBamRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = MoekitBamMixtureOfAttention(config)
        self.post_attention_layernorm = MoekitBamRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.block_sparse_moe = MoekitBamSparseMoe(config)

    def forward(self, h, cos, sin, mask):
        attn = self.self_attn(self.input_layernorm(h), cos, sin, mask)
        if self.parallel:
            return h + attn + self.block_sparse_moe(self.post_attention_layernorm(h))
        h = h + attn
        return h + self.block_sparse_moe(self.post_attention_layernorm(h))


class MoekitBamPreTrainedModel(PreTrainedModel):
    config_class = MoekitBamConfig
    base_model_prefix = "model"
    _no_split_modules = ["MoekitBamDecoderLayer"]
    supports_gradient_checkpointing = False

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)
        elif isinstance(module, MoekitBamRMSNorm):
            module.weight.data.fill_(1.0)


class MoekitBamModel(MoekitBamPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(MoekitBamDecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = MoekitBamRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, **kwargs):
        h = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        b, t, _ = h.shape
        positions = torch.arange(t, device=h.device)
        cos, sin = rotary(self.config, positions, h.device, h.dtype)
        allowed = torch.ones(t, t, dtype=torch.bool, device=h.device).tril()[None, None]        # [1, 1, T, T]
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]                          # [B, 1, T, T]
        mask = torch.zeros(allowed.shape, dtype=torch.float32, device=h.device)
        mask = mask.masked_fill(~allowed, torch.finfo(torch.float32).min)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return self.norm(h)


class MoekitBamForCausalLM(MoekitBamPreTrainedModel, GenerationMixin):
    def __init__(self, config):
        super().__init__(config)
        self.model = MoekitBamModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, **kwargs):
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def forward(self, input_ids=None, attention_mask=None, labels=None, inputs_embeds=None, **kwargs):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1, :].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=None)


__all__ = ["MoekitBamForCausalLM", "MoekitBamModel", "MoekitBamPreTrainedModel"]
