"""The generation loop: greedy decoding with a reusable KV cache, stop rules, cancellation, streaming.

Like llama.cpp's ``cache_prompt``, the engine keeps the KV cache of its previous request and, for a new
prompt, reuses the longest common token prefix: a keystroke pays only for the changed tail. Logits are
computed for the last position only (full logits over a long prompt would cost gigabytes). A cancel
callback is checked before every forward pass, so cancellation lands within one token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from codeassist.decode import FastDecoder
from codeassist.rope import apply_scaling, describe

PREFILL_CHUNK = 512  # tokens per prefill forward pass: bounds activation memory on long prompts

StopFn = Callable[[str], int | None]  # decoded text so far -> cut position to stop at, or None
CancelFn = Callable[[], bool]
TokenFn = Callable[[str], None]  # receives the text decoded so far, after each token


class Cancelled(Exception):
    """Generation was cancelled through the cancel callback."""


@dataclass
class Generation:
    text: str  # decoded completion, cut by the stop rule
    tokens: int  # generated tokens
    prompt_tokens: int
    cached_tokens: int | None  # prompt tokens whose KV came from a previous request (None: not reported)
    prefill_ms: float
    decode_ms: float
    stop_reason: str  # "stop_token" | "stop_rule" | "length" (remote: also "engine_interrupted")
    rope_scaling: str  # remote: "engine" (configured on the engine)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class Engine:
    """Runs one causal LM; not thread-safe on its own, so ``generate`` holds a lock."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model
        self.tokenizer = tokenizer
        self.lock = threading.Lock()
        self._cache: Any = None
        self._cache_ids: list[int] = []  # tokens whose keys/values are in _cache, in order
        self._cache_scaling: dict | None = None
        self._fast: FastDecoder | None | bool = False  # False: not built yet (the probe runs on first use)

    def reset(self) -> None:
        self._cache, self._cache_ids = None, []

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _fast_decoder(self) -> FastDecoder | None:
        if self._fast is False:
            self._fast = FastDecoder.build(self.model)
        return self._fast

    def _forward(self, ids: list[int]) -> torch.Tensor:
        """Feeds ``ids`` after the cached ones; returns the last position's logits (vocab,).

        A single token (every decode step) goes through the verified lean step of ``codeassist.decode``
        where the model allows it: bitwise the same logits, less per-token overhead.
        """
        if len(ids) == 1 and (fast := self._fast_decoder()) is not None:
            logits = fast.step(ids[0], self._cache)
            self._cache_ids.append(ids[0])
            return logits
        out = self.model(input_ids=torch.tensor([ids]), cache=self._cache, use_cache=True, logits_to_keep=1)
        self._cache_ids.extend(ids)
        return out.logits[0, -1]

    @torch.inference_mode()
    def generate(
        self,
        prompt_ids: list[int],
        *,
        max_new_tokens: int,
        stop_ids: set[int],
        stop_rule: StopFn | None = None,
        cancel: CancelFn | None = None,
        on_text: TokenFn | None = None,
        scaling: dict | None = None,
    ) -> Generation:
        """Greedy completion of ``prompt_ids``; raises Cancelled when ``cancel()`` turns true."""
        with self.lock:
            return self._generate(prompt_ids, max_new_tokens, stop_ids, stop_rule, cancel, on_text, scaling)

    @torch.inference_mode()
    def score(self, prompt_ids: list[int], target_ids: list[int], *, scaling: dict | None = None) -> list[float]:
        """Teacher-forced log-probabilities (natural log) of each of ``target_ids`` after ``prompt_ids``.

        One forward pass over the tokens not already in the KV cache; afterwards the cache holds the
        prompt and the target, so scoring several targets after one prompt reuses the prompt's keys.
        """
        if not prompt_ids or not target_ids:
            raise ValueError("score needs a non-empty prompt and target")
        with self.lock:
            if scaling != self._cache_scaling:
                apply_scaling(self.model, scaling)
                self.reset()
                self._cache_scaling = scaling
            ids = prompt_ids + target_ids
            first = len(prompt_ids) - 1  # the position whose logits predict the first target token
            reuse = min(common_prefix(self._cache_ids, ids), first)
            if self._cache is None or reuse <= 0:
                self._cache, self._cache_ids, reuse = self._new_cache(), [], 0
            elif reuse < len(self._cache_ids):
                self._cache.crop(reuse - len(self._cache_ids))
                del self._cache_ids[reuse:]
            try:
                for start in range(reuse, first, PREFILL_CHUNK):
                    self._forward(ids[start : min(start + PREFILL_CHUNK, first)])
                tail = ids[first:]
                out = self.model(input_ids=torch.tensor([tail]), cache=self._cache, use_cache=True,
                                 logits_to_keep=len(target_ids) + 1)
                self._cache_ids.extend(tail)
            except BaseException:
                self.reset()
                raise
            logprobs = torch.log_softmax(out.logits[0, : len(target_ids)].float(), dim=-1)
            return logprobs[torch.arange(len(target_ids)), torch.tensor(target_ids)].tolist()

    def _generate(self, prompt_ids, max_new_tokens, stop_ids, stop_rule, cancel, on_text, scaling) -> Generation:
        cancel = cancel or (lambda: False)
        t0 = time.perf_counter()
        if scaling != self._cache_scaling:
            apply_scaling(self.model, scaling)  # keys rotated under another scaling cannot be reused
            self.reset()
            self._cache_scaling = scaling
        reuse = common_prefix(self._cache_ids, prompt_ids)
        reuse = min(reuse, len(prompt_ids) - 1)  # at least one token must run to produce logits
        if self._cache is None or reuse <= 0:
            self._cache, self._cache_ids, reuse = self._new_cache(), [], 0
        elif reuse < len(self._cache_ids):
            self._cache.crop(reuse - len(self._cache_ids))  # negative: tokens to drop from the end
            del self._cache_ids[reuse:]
        logits = None
        try:
            for start in range(reuse, len(prompt_ids), PREFILL_CHUNK):
                if cancel():
                    raise Cancelled()
                logits = self._forward(prompt_ids[start : start + PREFILL_CHUNK])
            t1 = time.perf_counter()
            generated: list[int] = []
            text, reason = "", "length"
            while len(generated) < max_new_tokens:
                token = int(torch.argmax(logits))
                if token in stop_ids:
                    reason = "stop_token"
                    break
                generated.append(token)
                text = self.tokenizer.decode(generated, skip_special_tokens=False)
                if on_text:
                    on_text(text)
                cut = stop_rule(text) if stop_rule else None
                if cut is not None:
                    text, reason = text[:cut], "stop_rule"
                    break
                if len(generated) >= max_new_tokens or cancel():
                    if cancel():
                        raise Cancelled()
                    break
                logits = self._forward([token])
        except Cancelled:
            raise  # the cache holds exactly _cache_ids: still reusable by the next request
        except BaseException:
            self.reset()  # a failed forward pass leaves the cache in an unknown state
            raise
        t2 = time.perf_counter()
        return Generation(
            text=text, tokens=len(generated), prompt_tokens=len(prompt_ids), cached_tokens=reuse,
            prefill_ms=(t1 - t0) * 1000, decode_ms=(t2 - t1) * 1000, stop_reason=reason,
            rope_scaling=describe(scaling),
        )
