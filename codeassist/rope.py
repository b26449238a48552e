"""RoPE scaling per request: choose a scaling for a prompt length and swap the model's rotary embedding.

transformers 5 keeps the scaling in ``config.rope_parameters`` and builds the rotary embedding (its
``inv_freq`` and attention scaling) once at model construction, so editing ``model.config`` later does
nothing. ``apply_scaling`` instead builds a new rotary module from a copied config and swaps it in; the
weights are untouched, so switching costs microseconds and is undone by applying ``None``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

MODES = ("yarn", "dynamic", "linear", "none")
DEFAULT_MODE = "yarn"  # best beyond the window on SmolLM2-135M at 12K tokens: needle NLL 2.42 vs 7.35
# (default) and 7.77 (dynamic); perplexity past 8,192 tokens 5.03 vs 7.34 (tests/bench/RESULTS.md)


def choose_scaling(prompt_tokens: int, native_context: int, mode: str = DEFAULT_MODE) -> dict[str, Any] | None:
    """The rope_parameters overrides for a prompt of ``prompt_tokens`` tokens, or None for the model's own.

    Inside the native window the model's own RoPE is kept (static YaRN costs a little on short inputs);
    beyond it the factor is the next power of two ≥ length / window.
    """
    if mode not in MODES:
        raise ValueError(f"unknown RoPE scaling mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "none" or prompt_tokens <= native_context:
        return None
    factor = float(2 ** math.ceil(math.log2(prompt_tokens / native_context)))
    return {"rope_type": mode, "factor": factor, "original_max_position_embeddings": native_context}


def describe(scaling: dict[str, Any] | None) -> str:
    """A short label for reports: "default" or e.g. "yarn x2"."""
    return "default" if not scaling else f"{scaling['rope_type']} x{scaling['factor']:g}"


def ntk_theta(theta: float, factor: float, head_dim: int) -> float:
    """The NTK-aware RoPE base for a window ``factor`` times the native one (dynamic NTK at its full length)."""
    return theta * (factor * factor - (factor - 1)) ** (head_dim / (head_dim - 2))


def _head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _rotary_owner(model: Any) -> Any:
    base = getattr(model, "model", model)
    if not hasattr(base, "rotary_emb"):
        raise TypeError(f"{type(model).__name__} has no shared rotary embedding to rescale")
    return base


def apply_scaling(model: Any, scaling: dict[str, Any] | None) -> None:
    """Rebuilds the model's rotary embedding for ``scaling`` (None restores the original)."""
    owner = _rotary_owner(model)
    if not hasattr(owner, "_codeassist_rotary"):
        owner._codeassist_rotary = owner.rotary_emb  # the module built from the model's own config
    original = owner._codeassist_rotary
    if scaling is None:
        owner.rotary_emb = original
        return
    config = copy.deepcopy(original.config)
    params = dict(config.rope_parameters or {})
    params.setdefault("rope_theta", original.config.rope_parameters.get("rope_theta"))
    native = scaling["original_max_position_embeddings"]
    if scaling["rope_type"] == "dynamic":
        # transformers' dynamic NTK recomputes frequencies from the longest position of each forward pass,
        # so cached keys (chunked prefill, KV reuse across requests) were rotated with other frequencies
        # than later queries: perplexity past the window measured 225 instead of 5. Use the same NTK-aware
        # base, fixed for the whole request at length native x factor.
        params = {"rope_type": "default", "rope_theta": ntk_theta(params["rope_theta"], scaling["factor"], _head_dim(config))}
        config.max_position_embeddings = int(native * scaling["factor"])
    else:
        params.update(scaling)
        config.max_position_embeddings = int(native * scaling["factor"])
    config.rope_parameters = params
    rotary = type(original)(config=config)
    owner.rotary_emb = rotary.to(original.inv_freq.device)
