"""Choosing the repository context for a cursor, in two tiers that keep the prompt's prefix cache-stable.

The stable tier is ranked for the current file as a whole (no cursor identifiers) and cached until the
on-disk index changes, so typing and moving the cursor inside a file leave it byte-identical and the
model's KV cache for it is reused. The volatile tier, laid out after it, adds definitions of the identifiers
near the cursor that the stable tier lacks, then code similar to the lines before the cursor from anywhere in
the repository (``codeassist.similar``: how the repository uses what the definitions declare), the most
similar file last, next to the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeassist.receiver import ClassTable, receiver_snippet
from codeassist.similar import SimilarIndex, line_tails, similar_snippets, tail_match
from indexer import languages
from indexer.index import Index
from indexer.rank import Ranker, Snippet, TokenCounter, cursor_identifiers, estimate_tokens, family

SIMILAR_SHARE = 0.75  # of the context budget, for similar code (tests/bench/RESULTS.md: eval at 1,536 tokens)
RECEIVER_SHARE = 0.125  # at most, for the members of the receiver's class after "obj."; out of similar code's share
STABLE_SHARE = 0.7  # of the rest, for the cursor-independent tier; definitions near the cursor get the remainder


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
    """Remembers the stable tier per (file, budget) until the on-disk index changes, the similar-code search
    per language family, and the last similar code given per (file, budget)."""

    def __init__(self) -> None:
        self._stable: dict[tuple, list[Snippet]] = {}
        self._similar: dict[str, tuple[tuple, SimilarIndex]] = {}  # language family -> (disk generation, index)
        self._last_similar: dict[tuple, list[Snippet]] = {}
        self._classes: tuple[tuple, ClassTable] | None = None  # (disk generation, table)

    def reset_tiers(self) -> None:
        """Forgets the stable tiers and the last similar code (the evaluation ranks every case afresh); the
        similar-code indexes stay."""
        self._stable.clear()
        self._last_similar.clear()

    def sticky_similar(self, index: Index, path: str, budget: int, count_tokens: TokenCounter,
                       fresh: list[Snippet], before: str) -> list[Snippet]:
        """``fresh`` similar code, or the last one given for this file and budget when it already holds the best
        window of ``fresh``, or another window quoting as much of the cursor's line verbatim (``before``: the
        file's text up to the cursor), and the disk has not changed since.

        Keeps the prompt byte-identical while the cursor moves or types near where it was, so the engine's KV
        cache covers the similar code and the file's prefix after it (tests/bench/RESULTS.md: bench_lsp,
        bench_keystroke).
        """
        key = (path, budget, index.generation()[:2], id(count_tokens))
        last = self._last_similar.get(key)
        if last is not None and fresh:
            best = (fresh[0].path, fresh[0].start_line, fresh[0].end_line)
            if any((s.path, s.start_line, s.end_line) == best for s in last):
                return last
            tails = line_tails(before)
            quoted = tail_match(tails, fresh[0].text)
            if quoted and any(tail_match(tails, s.text) >= quoted for s in last):
                return last
        if len(self._last_similar) > 64:
            self._last_similar.clear()
        self._last_similar[key] = fresh
        return fresh

    def similar(self, index: Index, language: str) -> SimilarIndex:
        """The similar-code index over the on-disk files of ``language``'s family, brought up to date when the
        on-disk index changed (only changed files are re-read)."""
        fam = family(language)
        gen = index.generation()[:2]
        cached = self._similar.get(fam)
        if cached is None or cached[0] != gen:
            sim = cached[1] if cached else SimilarIndex()
            files = {p: row.hash for p, row in index.store.files().items() if family(row.language) == fam}
            sim.update(files, index.read_disk_text)
            self._similar[fam] = (gen, sim)
        return self._similar[fam][1]

    def classes(self, index: Index) -> ClassTable:
        """The Python classes of the on-disk index, rebuilt when it changed."""
        gen = index.generation()[:2]
        if self._classes is None or self._classes[0] != gen:
            self._classes = (gen, ClassTable(index.disk_snapshot()))
        return self._classes[1]

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
    text = text if text is not None else index.read_text(path)
    similar_budget = int(budget * SIMILAR_SHARE)
    stable = cache.stable(index, ranker, path, int((budget - similar_budget) * STABLE_SHARE), count_tokens)
    spans = [(s.path, s.start_line, s.end_line) for s in stable]
    language = languages.language_for_path(path)  # what the index stores for the path too
    before = _text_before(text, line, column)
    receiver = receiver_snippet(
        lambda: cache.classes(index), path, before, index.snapshot(),
        lambda p: index.read_disk_text(p).split("\n"),  # the class table's lines are the disk's, not a buffer's
        int(budget * RECEIVER_SHARE), count_tokens,
    ) if language is not None and language.name == "python" else None
    if receiver is not None and any(p == receiver.path and a <= receiver.start_line and receiver.end_line <= b
                                    for p, a, b in spans):
        receiver = None  # the stable tier quotes the whole class already
    if receiver is not None:  # the stable tier keeps its budget, so its cached prompt prefix stays valid
        similar_budget -= receiver.tokens  # (similar code from the class's body is still welcome)
    similar = cache.sticky_similar(index, path, similar_budget, count_tokens, similar_snippets(
        cache.similar(index, language.name), path, before, index.read_text,
        budget=similar_budget, count_tokens=count_tokens, exclude=spans,
    ), before) if language is not None and similar_budget > 0 else []
    used = sum(s.tokens for s in stable) + sum(s.tokens for s in similar) + (receiver.tokens if receiver else 0)
    volatile = ranker.rank(
        path, focus=cursor_identifiers(text, line), budget=budget - used, count_tokens=count_tokens,
        exclude=spans + [(s.path, s.start_line, s.end_line) for s in similar + ([receiver] if receiver else [])],
    )
    volatile = prompt_order([s for s in volatile if s.reason.endswith("near the cursor")])
    snippets = stable + volatile + prompt_order(similar) + ([receiver] if receiver else [])
    return Context(snippets, len(stable), sum(s.tokens for s in snippets))


def _text_before(text: str, line: int, column: int) -> str:
    """``text`` up to the cursor at 1-based ``line``, 0-based ``column`` (characters); all of it past the end."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return text
    return "\n".join(lines[: line - 1] + [lines[line - 1][:column]])
