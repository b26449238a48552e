"""A lean single-token decode step for Llama-family models (Qwen2, Llama): same weights, same math, less Python.

A transformers forward pass for one token spends a large share of its time outside the matrix products: mask
construction, rotary tables, kwargs plumbing, decorators and module calls, about a thousand small dispatches
per token. This step computes exactly what ``Qwen2DecoderLayer`` / ``LlamaDecoderLayer`` compute, op for op
and in the same order, calling the model's own weights, its ``rotary_emb`` (so RoPE scaling switched by
``codeassist.rope`` applies) and its KV cache (``DynamicCache.update``), with ``torch.mv`` for the matrix-vector
products (see ``codeassist.gemv``).

Equal output is proved, not assumed: ``FastDecoder.build`` runs a probe prompt through both paths and keeps
the fast step only if the logits are bitwise equal; otherwise (another architecture, another transformers
version) the engine keeps the plain forward pass.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

SUPPORTED = ("qwen2", "llama")  # config.model_type values whose decoder layer this step reproduces
PROBE_IDS = [785, 1156, 374, 264, 1273, 315, 279, 3974]  # any ids < vocab size: a short probe prompt


def _mv(weight: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    return torch.mv(weight, x) if bias is None else torch.addmv(bias, weight, x)


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Qwen2RMSNorm / LlamaRMSNorm, op for op (float32 statistics, cast back, then the weight)."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return (x * cos) + (torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin)


class FastDecoder:
    """One-token forward passes over a transformers Llama-family causal LM; see the module docstring."""

    def __init__(self, model: Any):
        config = model.config
        self.model = model
        self.base = model.model
        self.eps = float(config.rms_norm_eps)
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.layers = []
        for layer in self.base.layers[: config.num_hidden_layers]:
            a, m = layer.self_attn, layer.mlp
            self.layers.append((
                layer.input_layernorm.weight, layer.post_attention_layernorm.weight,
                (a.q_proj.weight, a.q_proj.bias), (a.k_proj.weight, a.k_proj.bias),
                (a.v_proj.weight, a.v_proj.bias), (a.o_proj.weight, a.o_proj.bias),
                (m.gate_proj.weight, m.gate_proj.bias), (m.up_proj.weight, m.up_proj.bias),
                (m.down_proj.weight, m.down_proj.bias),
            ))
        self.norm = self.base.norm.weight
        self.embed = self.base.embed_tokens.weight
        self.head = (model.lm_head.weight, model.lm_head.bias)

    @classmethod
    def build(cls, model: Any) -> FastDecoder | None:
        """A verified fast step for ``model``, or None when unsupported or not bitwise equal on the probe."""
        config = getattr(model, "config", None)
        reason = cls._unsupported(model, config)
        if reason is None:
            try:
                decoder = cls(model)
                if decoder._probe_equal():
                    return decoder
                reason = "its logits differ from transformers' on the probe prompt"
            except Exception as e:  # noqa: BLE001 - any surprise in another model's layout means: don't use it
                reason = f"probe failed: {e!r}"
        log.info("lean decode step not used: %s", reason)
        return None

    @staticmethod
    def _unsupported(model: Any, config: Any) -> str | None:
        if config is None or getattr(config, "model_type", None) not in SUPPORTED:
            return f"model type {getattr(config, 'model_type', None)!r} is not one of {SUPPORTED}"
        if any(t != "full_attention" for t in (getattr(config, "layer_types", None) or [])):
            return "sliding-window layers"
        if getattr(config, "hidden_act", None) != "silu" or getattr(config, "mlp_bias", False):
            return "an MLP other than SiLU-gated without bias"
        if getattr(config, "_attn_implementation", "sdpa") != "sdpa":
            return f"attention implementation {config._attn_implementation!r} (sdpa expected)"
        if not isinstance(getattr(model, "lm_head", None), torch.nn.Linear) or getattr(
                config, "final_logit_softcapping", None):
            return "no plain lm_head"
        if not all(isinstance(getattr(model.model.layers[0].self_attn, p), torch.nn.Linear)
                   for p in ("q_proj", "k_proj", "v_proj", "o_proj")):
            return "quantised or otherwise special projection layers"
        return None

    @torch.inference_mode()
    def _probe_equal(self) -> bool:
        from transformers import DynamicCache

        ids = [i % self.embed.shape[0] for i in PROBE_IDS]
        cache = DynamicCache(config=self.model.config)
        self.model(input_ids=torch.tensor([ids[:-1]]), cache=cache, use_cache=True, logits_to_keep=1)
        mine = copy.deepcopy(cache)
        want = self.model(input_ids=torch.tensor([ids[-1:]]), cache=cache, use_cache=True, logits_to_keep=1)
        got = self.step(ids[-1], mine)
        return torch.equal(want.logits[0, -1], got) and all(
            torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)
            for a, b in zip(cache.layers, mine.layers))

    def step(self, token: int, cache: Any) -> torch.Tensor:
        """Feeds one token after the ``cache.get_seq_length()`` cached ones; returns its logits (vocab,)."""
        position = cache.get_seq_length()
        x = self.embed[token].view(1, 1, -1)
        cos, sin = self.base.rotary_emb(x, torch.tensor([[position]]))
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        for i, (n1, n2, q, k, v, o, gate, up, down) in enumerate(self.layers):
            h = _rms_norm(x, n1, self.eps).view(-1)
            qs = _mv(*q, h).view(1, 1, self.heads, self.head_dim).transpose(1, 2)
            ks = _mv(*k, h).view(1, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            vs = _mv(*v, h).view(1, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            keys, values = cache.update(_rotate(ks, cos, sin), vs, i)
            attn = F.scaled_dot_product_attention(_rotate(qs, cos, sin), keys, values, attn_mask=None,
                                                  dropout_p=0.0, scale=self.scaling, is_causal=False,
                                                  enable_gqa=self.heads != self.kv_heads)
            attn = attn.reshape(1, -1, 1, self.head_dim).transpose(1, 2).contiguous().view(-1)
            x = x + _mv(*o, attn).view(1, 1, -1)
            h = _rms_norm(x, n2, self.eps).view(-1)
            x = x + _mv(*down, F.silu(_mv(*gate, h)) * _mv(*up, h)).view(1, 1, -1)
        return _mv(*self.head, _rms_norm(x, self.norm, self.eps).view(-1))
