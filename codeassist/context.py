"""Choosing the repository context for a cursor, in two tiers that keep the prompt's prefix cache-stable.

The stable tier is ranked for the current file as a whole (no cursor identifiers) and cached until the
on-disk index changes, so typing and moving the cursor inside a file leave it byte-identical and the
model's KV cache for it is reused. The volatile tier, a smaller share of the budget, adds definitions of
the identifiers near the cursor that the stable tier lacks; it is laid out after the stable tier.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.index import Index
from indexer.rank import Ranker, Snippet, TokenCounter, cursor_identifiers, estimate_tokens

STABLE_SHARE = 0.7  # of the context budget, for the cursor-independent tier


@dataclass(frozen=True)
class Context:
    snippets: list[Snippet]  # in prompt order: the stable tier, then the volatile tier (see prompt_order)
    stable_count: int  # how many leading snippets form the stable tier
    tokens: int  # sum of the snippets' token counts

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(s.path for s in self.snippets))


def prompt_order(snippets: list[Snippet]) -> list[Snippet]:
    """Files by ascending best score (the most relevant file ends next to the cursor), lines in order.

    Deterministic for a given set of snippets, so an unchanged tier renders byte-identically.
    """
    best: dict[str, float] = {}
    for s in snippets:
        best[s.path] = max(best.get(s.path, 0.0), s.score)
    return sorted(snippets, key=lambda s: (best[s.path], s.path, s.start_line))


class ContextCache:
    """Remembers the stable tier per (file, budget) until the on-disk index changes."""

    def __init__(self) -> None:
        self._stable: dict[tuple, list[Snippet]] = {}

    def stable(self, index: Index, ranker: Ranker, path: str, budget: int, count_tokens: TokenCounter) -> list[Snippet]:
        gen = index.generation()[:2]  # disk state only: buffer edits do not reshuffle the stable tier
        key = (path, budget, gen, id(count_tokens))  # a fallback backend counts with another tokenizer
        if key not in self._stable:
            if len(self._stable) > 64:
                self._stable.clear()
            picked = ranker.rank(path, budget=budget, count_tokens=count_tokens)
            self._stable[key] = prompt_order(picked)
        return self._stable[key]


def gather_context(
    index: Index,
    ranker: Ranker,
    path: str,
    line: int,
    column: int,
    *,
    budget: int,
    count_tokens: TokenCounter = estimate_tokens,
    cache: ContextCache | None = None,
    text: str | None = None,
) -> Context:
    """Context snippets for the cursor at 1-based ``line``, 0-based ``column`` of ``path``, within ``budget`` tokens.

    The current file never appears: its text reaches the prompt only as the prefix and suffix.
    """
    if budget <= 0:
        return Context([], 0, 0)
    cache = cache or ContextCache()
    stable = cache.stable(index, ranker, path, int(budget * STABLE_SHARE), count_tokens)
    used = sum(s.tokens for s in stable)
    text = text if text is not None else index.read_text(path)
    focus = cursor_identifiers(text, line)
    volatile = ranker.rank(
        path, focus=focus, budget=budget - used, count_tokens=count_tokens,
        exclude=[(s.path, s.start_line, s.end_line) for s in stable],
    )
    volatile = prompt_order([s for s in volatile if s.reason.endswith("near the cursor")])
    snippets = stable + volatile
    return Context(snippets, len(stable), sum(s.tokens for s in snippets))
