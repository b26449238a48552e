"""Code similar to the lines before the cursor, from every file of the current file's language family.

Definitions tell the model what exists; similar code shows how the repository uses it, often the very line
pattern being typed (what CrossCodeEval's BM25 baseline gains from). Files are cut into windows of
``CHUNK_LINES`` lines every ``CHUNK_STRIDE`` lines, and BM25 (``bm25s``) scores the windows against the last
``QUERY_LINES`` lines before the cursor. Tokens are the lower-cased words of two or more characters, with no
stop words (bm25s's default pattern; in code "is", "in" and "not" carry meaning).

``SimilarIndex`` keeps each file's tokens as ids of ``CHUNK_STRIDE``-line blocks, cached by content hash, so a
rebuild after an edit re-reads only the files that changed. Lines are 1-based and inclusive.
"""

from __future__ import annotations

import logging
import re
from array import array
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

import bm25s

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import

from indexer.rank import Snippet, TokenCounter, estimate_tokens  # noqa: E402

CHUNK_LINES = 10  # lines per window (CrossCodeEval's chunk size)
CHUNK_STRIDE = 5  # windows overlap by half, so a use is not split unluckily
QUERY_LINES = 10  # lines before the cursor that form the query
CANDIDATES = 100  # best windows considered when filling a budget
REASON = "similar code"
TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern, applied to lower-cased text

ReadText = Callable[[str], str]  # repository-relative path -> the file's text


def chunk_spans(line_count: int) -> list[tuple[int, int]]:
    """(start, end) 1-based inclusive line spans of the windows over a text of ``line_count`` lines."""
    spans = []
    for start in range(0, max(1, line_count - CHUNK_LINES + CHUNK_STRIDE), CHUNK_STRIDE):
        end = min(line_count, start + CHUNK_LINES)
        if end <= start:
            break
        spans.append((start + 1, end))
        if end == line_count:
            break
    return spans


def query_text(prefix: str) -> str:
    """The query for a cursor whose file text before it is ``prefix``: its last ``QUERY_LINES`` lines."""
    return "\n".join(prefix.split("\n")[-QUERY_LINES:])


@dataclass
class _FileBlocks:
    digest: str  # the content hash the blocks were cut from
    line_count: int
    blocks: list[array]  # token ids of lines [i*CHUNK_STRIDE + 1, (i+1)*CHUNK_STRIDE], per block
    blank: bytes  # per block: 1 when it holds only whitespace (a window of blank blocks is no document)


class SimilarIndex:
    """BM25 over the windows of a set of files; ``update`` re-tokenizes only files whose hash changed."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}  # token -> id; grows, never shrinks
        self._files: dict[str, _FileBlocks] = {}
        self.windows: list[tuple[str, int, int]] = []  # (path, start, end) per BM25 document
        self._paths = np.array([], dtype=object)
        self._bm25: bm25s.BM25 | None = None

    def __len__(self) -> int:
        return len(self.windows)

    def update(self, files: dict[str, str], read_text: ReadText) -> bool:
        """Brings the index to ``files`` (path -> content hash); returns whether anything changed.

        A file that cannot be read is left out until its hash changes again.
        """
        changed = [p for p, digest in files.items() if p not in self._files or self._files[p].digest != digest]
        gone = [p for p in self._files if p not in files]
        if not changed and not gone and self._bm25 is not None:
            return False
        for p in gone:
            del self._files[p]
        for p in changed:
            try:
                lines = read_text(p).split("\n")
            except OSError:
                self._files[p] = _FileBlocks(files[p], 0, [], b"")
                continue
            texts = ["\n".join(lines[i : i + CHUNK_STRIDE]) for i in range(0, len(lines), CHUNK_STRIDE)]
            self._files[p] = _FileBlocks(files[p], len(lines), [self._ids(t) for t in texts],
                                         bytes(not t.strip() for t in texts))
        self._rebuild()
        return True

    def _ids(self, text: str) -> array:
        vocab = self.vocab
        return array("I", [vocab.setdefault(t, len(vocab)) for t in TOKEN_RE.findall(text.lower())])

    def _rebuild(self) -> None:
        windows: list[tuple[str, int, int]] = []
        docs: list[array] = []  # token ids per window (arrays: 4 bytes a token, not a Python int each)
        for path in sorted(self._files):
            f = self._files[path]
            for start, end in chunk_spans(f.line_count):
                first, last = (start - 1) // CHUNK_STRIDE, (end - 1) // CHUNK_STRIDE
                if all(f.blank[first : last + 1]):
                    continue
                ids = array("I")
                for block in f.blocks[first : last + 1]:
                    ids.extend(block)
                windows.append((path, start, end))
                docs.append(ids)
        self.windows = windows
        self._paths = np.array([w[0] for w in windows], dtype=object)
        self._bm25 = bm25s.BM25()
        if docs:
            vocab = dict(self.vocab)
            self._bm25.index((docs, vocab), show_progress=False)

    def search(self, query: str, *, exclude_path: str, k: int = CANDIDATES) -> list[tuple[float, str, int, int]]:
        """The ``k`` best windows as (score, path, start, end), best first; score > 0, never from ``exclude_path``."""
        words = [t for t in TOKEN_RE.findall(query.lower()) if t in self.vocab]
        if not self.windows or not words or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(words)
        scores = np.where(self._paths == exclude_path, -np.inf, scores)
        best = np.argsort(-scores, kind="stable")[:k]  # ties by position: deterministic
        return [(float(scores[i]), *self.windows[i]) for i in best if np.isfinite(scores[i]) and scores[i] > 0]


def similar_snippets(
    index: SimilarIndex,
    path: str,
    prefix: str,
    read_text: ReadText,
    *,
    budget: int,
    count_tokens: TokenCounter = estimate_tokens,
    exclude: Iterable[tuple[str, int, int]] = (),
) -> list[Snippet]:
    """The windows most similar to the cursor's last lines within ``budget`` tokens, best first.

    ``prefix`` is the current file's text before the cursor; a window lying inside one of the ``exclude``
    (path, start, end) spans, already in the prompt, is skipped. Windows may overlap one another: taking the
    best windows as BM25 ranks them, overlaps and all, completed better than skipping overlaps for the next
    best (tests/bench/RESULTS.md), as the lines around the best match come twice. Texts are read now.
    """
    inside: dict[str, list[tuple[int, int]]] = {}
    for p, a, b in exclude:
        inside.setdefault(p, []).append((a, b))
    lines: dict[str, list[str]] = {}
    out: list[Snippet] = []
    used = 0
    for score, p, start, end in index.search(query_text(prefix), exclude_path=path):
        if any(a <= start and end <= b for a, b in inside.get(p, ())):
            continue
        if p not in lines:
            try:
                lines[p] = read_text(p).split("\n")
            except OSError:
                lines[p] = []
        text = "\n".join(lines[p][start - 1 : end])
        if not text.strip():
            continue
        tokens = count_tokens(text) + 1
        if used + tokens > budget:
            continue
        out.append(Snippet(p, start, end, text, score, REASON, tokens))
        used += tokens
    return out
