"""Code similar to the lines before the cursor, from the files most related to the current one.

Definitions tell the model what exists; similar code shows how it is used, often the very line pattern being
typed (CrossCodeEval's BM25 baseline gains most from exactly this). Windows of ``CHUNK_LINES`` lines, every
``CHUNK_STRIDE`` lines, over the ``RELATED_FILES`` files the ranker rates highest for the current file, are
scored with BM25 (``bm25s``) against the last ``QUERY_LINES`` lines before the cursor. The window index is
cached per set of files and index generation, so a keystroke only pays for scoring.
"""

from __future__ import annotations

import logging
from typing import Iterable

import numpy as np

import bm25s

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import

from indexer.rank import Snippet, TokenCounter, estimate_tokens  # noqa: E402

CHUNK_LINES = 10  # lines per window (CrossCodeEval's chunk size)
CHUNK_STRIDE = 5  # windows overlap by half, so a use is not split unluckily
QUERY_LINES = 10  # lines before the cursor that form the query
RELATED_FILES = 24  # files searched for similar code: the ranker's best for the current file
REASON = "similar code"


def chunk_lines(lines: list[str], size: int = CHUNK_LINES, stride: int = CHUNK_STRIDE) -> list[tuple[int, int]]:
    """(start, end) 1-based inclusive line spans of the sliding windows over ``lines``."""
    if not lines:
        return []
    spans = []
    for start in range(0, max(1, len(lines) - size + stride), stride):
        end = min(len(lines), start + size)
        spans.append((start + 1, end))
        if end == len(lines):
            break
    return spans


class ChunkIndex:
    """BM25 over the windows of a set of files (lower-cased word tokens, no stop words: in code, "is", "in"
    and "not" carry meaning)."""

    def __init__(self, files: Iterable[tuple[str, list[str]]]):
        self.chunks: list[tuple[str, int, int, str]] = []  # (path, start, end, text)
        for path, lines in files:
            for start, end in chunk_lines(lines):
                text = "\n".join(lines[start - 1 : end])
                if text.strip():
                    self.chunks.append((path, start, end, text))
        self.paths = np.array([c[0] for c in self.chunks], dtype=object)
        self.bm25 = bm25s.BM25()
        if self.chunks:
            tokens = bm25s.tokenize([c[3] for c in self.chunks], stopwords=None, show_progress=False)
            self.bm25.index(tokens, show_progress=False)

    def search(self, query: str, *, exclude_path: str, k: int) -> list[tuple[float, str, int, int, str]]:
        """The ``k`` best windows as (score, path, start, end, text), never from ``exclude_path``; score > 0."""
        words = bm25s.tokenize([query], stopwords=None, show_progress=False, return_ids=False)[0]
        if not self.chunks or not words:
            return []
        scores = self.bm25.get_scores(words)
        scores = np.where(self.paths == exclude_path, -np.inf, scores)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(float(scores[i]), *self.chunks[i]) for i in best if np.isfinite(scores[i]) and scores[i] > 0]


def query_text(prefix: str) -> str:
    """The query for a cursor whose file text before it is ``prefix``: its last ``QUERY_LINES`` lines."""
    return "\n".join(prefix.split("\n")[-QUERY_LINES:])


def similar_snippets(
    chunks: ChunkIndex,
    path: str,
    prefix: str,
    *,
    budget: int,
    count_tokens: TokenCounter = estimate_tokens,
    exclude: Iterable[tuple[str, int, int]] = (),
    candidates: int = 50,
) -> list[Snippet]:
    """The best windows for the cursor within ``budget`` tokens, best first; none overlaps another or ``exclude``.

    ``exclude`` holds (path, start, end) spans (1-based, inclusive) already in the prompt.
    """
    taken: dict[str, list[tuple[int, int]]] = {}
    for p, a, b in exclude:
        taken.setdefault(p, []).append((a, b))
    out: list[Snippet] = []
    used = 0
    for score, p, start, end, text in chunks.search(query_text(prefix), exclude_path=path, k=candidates):
        if any(start <= b and a <= end for a, b in taken.get(p, ())):
            continue
        tokens = count_tokens(text) + 1
        if used + tokens > budget:
            continue
        out.append(Snippet(p, start, end, text, score, REASON, tokens))
        taken.setdefault(p, []).append((start, end))
        used += tokens
    return out

