"""CrossCodeEval's retrieval baseline: BM25 over ten-line chunks of the repository's other files.

The query is the last ``QUERY_LINES`` lines before the cursor; the top ``TOP_K`` chunks of files other
than the target file become the context, laid out like the packer's snippets. BM25 itself comes from
``bm25s`` (lower-cased word tokens, no stop words: in code, "is", "in" and "not" carry meaning).
"""

from __future__ import annotations

from indexer.index import Index
from indexer.rank import Snippet, TokenCounter, estimate_tokens
from codeassist.context import Context, prompt_order
from codeassist.similar import ChunkIndex, chunk_lines, query_text  # noqa: F401 - chunk_lines is part of this API

TOP_K = 5  # chunks retrieved per case
FILL_K = 100  # chunks considered when filling a fixed token budget instead


class ChunkRetriever:
    """A BM25 index over the ten-line chunks of every file of ``language`` in the index (built once)."""

    def __init__(self, index: Index, *, language: str = "python"):
        snap = index.snapshot()
        files = []
        for path in sorted(p for p, lang in snap.languages.items() if lang == language):
            try:
                files.append((path, index.read_text(path).split("\n")))
            except OSError:
                continue
        self.index = ChunkIndex(files)
        self.chunks = self.index.chunks

    def retrieve(self, query: str, *, exclude_path: str, k: int = TOP_K) -> list[tuple[float, str, int, int, str]]:
        """The ``k`` best chunks as (score, path, start, end, text), never from ``exclude_path``."""
        return self.index.search(query, exclude_path=exclude_path, k=k)


def bm25_context(retriever: ChunkRetriever, path: str, prefix: str, *, budget: int | None = None,
                 count_tokens: TokenCounter = estimate_tokens) -> Context:
    """The top chunks for a cursor whose file text before it is ``prefix``, as a ``Context``.

    ``budget`` None takes the ``TOP_K`` best chunks (CrossCodeEval); a number of tokens instead fills that
    budget with chunks in score order, so that BM25 and the packer can be compared at any budget.
    """
    query = query_text(prefix)
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
