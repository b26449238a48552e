"""CrossCodeEval's retrieval baseline: BM25 over ten-line chunks of the repository's other files.

The query is the last ``QUERY_LINES`` lines before the cursor; the top ``TOP_K`` chunks of files other
than the target file become the context, laid out like the packer's snippets. BM25 itself comes from
``bm25s`` (lower-cased word tokens, no stop words: in code, "is", "in" and "not" carry meaning).
"""

from __future__ import annotations

import logging

import numpy as np

import bm25s

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
from indexer.index import Index
from indexer.rank import Snippet, TokenCounter, estimate_tokens
from codeassist.context import Context, prompt_order

CHUNK_LINES = 10  # lines per retrievable chunk
CHUNK_STRIDE = 5  # chunks overlap by half, so a definition is not split unluckily
QUERY_LINES = 10  # lines before the cursor that form the query
TOP_K = 5  # chunks retrieved per case
FILL_K = 100  # chunks considered when filling a fixed token budget instead


def chunk_lines(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) 1-based inclusive line spans of the sliding windows over ``lines``."""
    if not lines:
        return []
    spans = []
    for start in range(0, max(1, len(lines) - CHUNK_LINES + CHUNK_STRIDE), CHUNK_STRIDE):
        end = min(len(lines), start + CHUNK_LINES)
        spans.append((start + 1, end))
        if end == len(lines):
            break
    return spans


class ChunkRetriever:
    """A BM25 index over the chunks of every file of ``language`` in the index (built once)."""

    def __init__(self, index: Index, *, language: str = "python"):
        snap = index.snapshot()
        self.chunks: list[tuple[str, int, int, str]] = []  # (path, start, end, text)
        for path in sorted(p for p, lang in snap.languages.items() if lang == language):
            try:
                lines = index.read_text(path).split("\n")
            except OSError:
                continue
            for start, end in chunk_lines(lines):
                text = "\n".join(lines[start - 1 : end])
                if text.strip():
                    self.chunks.append((path, start, end, text))
        self.paths = np.array([c[0] for c in self.chunks], dtype=object)
        self.bm25 = bm25s.BM25()
        if self.chunks:
            tokens = bm25s.tokenize([c[3] for c in self.chunks], stopwords=None, show_progress=False)
            self.bm25.index(tokens, show_progress=False)

    def retrieve(self, query: str, *, exclude_path: str, k: int = TOP_K) -> list[tuple[float, str, int, int, str]]:
        """The ``k`` best chunks as (score, path, start, end, text), never from ``exclude_path``."""
        words = bm25s.tokenize([query], stopwords=None, show_progress=False, return_ids=False)[0]
        if not self.chunks or not words:
            return []
        scores = self.bm25.get_scores(words)
        scores = np.where(self.paths == exclude_path, -np.inf, scores)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(float(scores[i]), *self.chunks[i]) for i in best if np.isfinite(scores[i]) and scores[i] > 0]


def bm25_context(retriever: ChunkRetriever, path: str, prefix: str, *, budget: int | None = None,
                 count_tokens: TokenCounter = estimate_tokens) -> Context:
    """The top chunks for a cursor whose file text before it is ``prefix``, as a ``Context``.

    ``budget`` None takes the ``TOP_K`` best chunks (CrossCodeEval); a number of tokens instead fills that
    budget with chunks in score order, so that BM25 and the packer can be compared at any budget.
    """
    query = "\n".join(prefix.split("\n")[-QUERY_LINES:])
    snippets: list[Snippet] = []
    used = 0
    k = TOP_K if budget is None else FILL_K
    for score, p, start, end, text in retriever.retrieve(query, exclude_path=path, k=k):
        tokens = count_tokens(text) + 1
        if budget is not None and used + tokens > budget:
            continue
        snippets.append(Snippet(p, start, end, text, score, "BM25 chunk", tokens))
        used += tokens
    ordered = prompt_order(snippets)
    return Context(ordered, len(ordered), used)
