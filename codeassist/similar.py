"""Code similar to the lines before the cursor, from every file of the current file's language family.

Definitions tell the model what exists; similar code shows how the repository uses it, often the very line
pattern being typed (what CrossCodeEval's BM25 baseline gains from). Files are cut into windows of
``CHUNK_LINES`` lines every ``CHUNK_STRIDE`` lines, and BM25 scores the windows against the last
``QUERY_LINES`` lines before the cursor. Tokens are the lower-cased words of two or more characters, with no
stop words (bm25s's default pattern; in code "is", "in" and "not" carry meaning).

The packer weighs the cursor's own line (up to the cursor) more than CrossCodeEval's baseline does, since
what is being typed (``console.``, ``tree = self.repo.``) says most about what comes next: the line counts
``1 + CURSOR_LINE_WEIGHT`` times in the query, and of the ``CANDIDATES`` best windows, those quoting a longer
tail of it verbatim come first (tests/bench/RESULTS.md: "The cursor's line").

``SimilarIndex`` keeps each file's tokens as ids of ``CHUNK_STRIDE``-line blocks, cached by content hash, so a
rebuild after an edit re-reads only the files that changed. Lines are 1-based and inclusive.

BM25 is bm25s's default (Lucene's variant, k1 1.5, b 0.75, float32) computed the same way, token for token,
but over the whole corpus at once in numpy: bm25s builds its matrix with Python loops per window (3.7 s for
the standard library's 171,000 windows). ``tests/codeassist/test_similar.py`` checks the scores against bm25s.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from scipy import sparse

from indexer.rank import Snippet, TokenCounter, estimate_tokens

CHUNK_LINES = 10  # lines per window (CrossCodeEval's chunk size)
CHUNK_STRIDE = 5  # windows overlap by half, so a use is not split unluckily
QUERY_LINES = 10  # lines before the cursor that form the query
CURSOR_LINE_WEIGHT = 3  # extra times the packer's query holds the cursor's line
MIN_TAIL = 3  # characters: shorter tails of the cursor's line ("x.") do not reorder windows
CANDIDATES = 100  # best windows considered when filling a budget
REASON = "similar code"
TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern, applied to lower-cased text
WORD_START_RE = re.compile(r"\b\w")
PARTIAL_WORD_RE = re.compile(r"\w+$")
BM25_K1 = 1.5  # term frequency saturation (bm25s's and Lucene's default)
BM25_B = 0.75  # document length normalisation (bm25s's and Lucene's default)

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


def query_text(prefix: str, cursor_line_weight: int = 0) -> str:
    """The query for a cursor whose file text before it is ``prefix``: its last ``QUERY_LINES`` lines, then
    its last line (the cursor's, up to the cursor) ``cursor_line_weight`` more times."""
    lines = prefix.split("\n")
    return "\n".join(lines[-QUERY_LINES:] + [lines[-1]] * cursor_line_weight)


def line_tails(prefix: str) -> list[str]:
    """The tails of the cursor's line (``prefix``'s last line, indentation stripped) that start at its start
    or at a word, longest first, of at least ``MIN_TAIL`` characters: ``tree = self.repo.`` gives itself,
    ``self.repo.`` and ``repo.``.

    A word being typed is left out (``tree = self.re`` gives the tails of ``tree = self.``), so the order of
    windows, and with it the prompt, changes at most once per word typed."""
    line = PARTIAL_WORD_RE.sub("", prefix.rsplit("\n", 1)[-1].lstrip())
    starts = sorted({0} | {m.start() for m in WORD_START_RE.finditer(line)})
    return [line[i:] for i in starts if len(line) - i >= MIN_TAIL]


def tail_match(tails: list[str], text: str) -> int:
    """Characters of the longest of ``tails`` (longest first) that ``text`` contains verbatim; 0: none."""
    return next((len(t) for t in tails if t in text), 0)


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
        self._path_ids = np.zeros(0, dtype=np.int32)  # per window: its file's position in self._path_order
        self._path_order: dict[str, int] = {}
        self._weights: sparse.csc_matrix | None = None  # (windows, vocabulary): each token's BM25 weight

    def __len__(self) -> int:
        return len(self.windows)

    def update(self, files: dict[str, str], read_text: ReadText) -> bool:
        """Brings the index to ``files`` (path -> content hash); returns whether anything changed.

        A file that cannot be read is left out until its hash changes again.
        """
        changed = [p for p, digest in files.items() if p not in self._files or self._files[p].digest != digest]
        gone = [p for p in self._files if p not in files]
        if not changed and not gone and self._weights is not None:
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
        self._path_order = {p: i for i, p in enumerate(sorted(self._files))}
        self._path_ids = np.array([self._path_order[w[0]] for w in windows], dtype=np.int32)
        self._weights = _bm25_weights(docs, len(self.vocab))

    def search(self, query: str, *, exclude_path: str, k: int = CANDIDATES) -> list[tuple[float, str, int, int]]:
        """The ``k`` best windows as (score, path, start, end), best first; score > 0, never from ``exclude_path``."""
        ids = [self.vocab[t] for t in TOKEN_RE.findall(query.lower()) if t in self.vocab]
        if not self.windows or not ids or self._weights is None:
            return []
        w = self._weights
        scores = np.zeros(w.shape[0], dtype=np.float32)
        for t in ids:  # a repeated query word counts again, as in bm25s
            lo, hi = w.indptr[t], w.indptr[t + 1]
            scores[w.indices[lo:hi]] += w.data[lo:hi]  # rows are unique within a column
        if exclude_path in self._path_order:
            scores[self._path_ids == self._path_order[exclude_path]] = -np.inf
        best = _top(scores, k)
        return [(float(scores[i]), *self.windows[i]) for i in best if np.isfinite(scores[i]) and scores[i] > 0]


def _bm25_weights(docs: list[array], vocab_size: int) -> sparse.csc_matrix:
    """The (documents, vocabulary) matrix of BM25 weights: idf × saturated, length-normalised term frequency."""
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    ids = np.frombuffer(b"".join(d.tobytes() for d in docs), dtype=np.uint32).astype(np.int64)
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    tf = sparse.csr_matrix((np.ones(len(ids), dtype=np.float32), (rows, ids)), shape=(len(docs), vocab_size))
    tf.sum_duplicates()
    n = len(docs)
    df = np.bincount(tf.indices, minlength=vocab_size)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    avg = lengths.mean() if lengths.any() else 1.0  # no tokens anywhere: no weights to normalise
    norm = (BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / avg)).astype(np.float32)  # per document
    tf.data = idf[tf.indices] * (tf.data / (np.repeat(norm, np.diff(tf.indptr)) + tf.data))
    return tf.tocsc()


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, highest first, ties in index order: ``np.argsort(-scores,
    kind="stable")[:k]``, without sorting every window (9 ms for 170,000 windows; this takes ~1 ms)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th highest score
    candidates = np.flatnonzero(scores >= kth)  # ascending indices: a stable sort keeps ties in index order
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


def similar_snippets(
    index: SimilarIndex,
    path: str,
    prefix: str,
    read_text: ReadText,
    *,
    budget: int | None,
    count_tokens: TokenCounter = estimate_tokens,
    exclude: Iterable[tuple[str, int, int]] = (),
    k: int = CANDIDATES,
    reason: str = REASON,
    cursor_line: bool = True,
) -> list[Snippet]:
    """Of the ``k`` windows most similar to the cursor's last lines, those within ``budget`` tokens (None:
    all of them), best first.

    With ``cursor_line`` (the packer), the query holds the cursor's line ``1 + CURSOR_LINE_WEIGHT`` times and
    windows rank by the longest tail of that line they quote verbatim, then by BM25; a snippet's score is
    then those characters plus BM25 squashed into [0, 1). Without it (CrossCodeEval's baseline), by BM25 alone.

    ``prefix`` is the current file's text before the cursor; a window lying inside one of the ``exclude``
    (path, start, end) spans, already in the prompt, is skipped. Windows may overlap one another: taking the
    best windows as BM25 ranks them, overlaps and all, completed better than skipping overlaps for the next
    best (tests/bench/RESULTS.md), as the lines around the best match come twice. Texts are read now.
    """
    inside: dict[str, list[tuple[int, int]]] = {}
    for p, a, b in exclude:
        inside.setdefault(p, []).append((a, b))
    lines: dict[str, list[str]] = {}
    found: list[tuple[float, str, int, int, str]] = []
    query = query_text(prefix, CURSOR_LINE_WEIGHT if cursor_line else 0)
    for score, p, start, end in index.search(query, exclude_path=path, k=k):
        if any(a <= start and end <= b for a, b in inside.get(p, ())):
            continue
        if p not in lines:
            try:
                lines[p] = read_text(p).split("\n")
            except OSError:
                lines[p] = []
        text = "\n".join(lines[p][start - 1 : end])
        if text.strip():
            found.append((score, p, start, end, text))
    if cursor_line:
        tails = line_tails(prefix)
        found = sorted(((tail_match(tails, text) + score / (1 + score), p, start, end, text)
                        for score, p, start, end, text in found), key=lambda f: -f[0])  # stable: BM25 breaks ties
    out: list[Snippet] = []
    used = 0
    for score, p, start, end, text in found:
        tokens = count_tokens(text) + 1
        if budget is not None and used + tokens > budget:
            continue
        out.append(Snippet(p, start, end, text, score, reason, tokens))
        used += tokens
    return out
