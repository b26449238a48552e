"""CrossCodeEval's retrieval baseline: BM25 over ten-line chunks of the repository's other files.

The query is the last ``QUERY_LINES`` lines before the cursor; the top ``TOP_K`` chunks of files other
than the target file become the context, laid out like the packer's snippets. The windows, tokens and BM25
are the packer's own similar-code search (``codeassist.similar``), over every Python file as it is on disk;
unlike the packer, the baseline takes overlapping windows as they come.
"""

from __future__ import annotations

from codeassist.context import Context, prompt_order
from codeassist.similar import QUERY_LINES, ReadText, SimilarIndex, query_text
from indexer.index import Index
from indexer.rank import Snippet, TokenCounter, estimate_tokens

TOP_K = 5  # chunks retrieved per case
FILL_K = 100  # chunks considered when filling a fixed token budget instead

__all__ = ["QUERY_LINES", "TOP_K", "chunk_index", "bm25_context"]


def chunk_index(index: Index, *, language: str = "python") -> SimilarIndex:
    """The BM25 window index over every file of ``language`` in the index, as on disk (built once)."""
    sim = SimilarIndex()
    sim.update({p: row.hash for p, row in index.store.files().items() if row.language == language},
               index.read_disk_text)
    return sim


def bm25_context(retriever: SimilarIndex, path: str, prefix: str, read_text: ReadText, *, budget: int | None = None,
                 count_tokens: TokenCounter = estimate_tokens) -> Context:
    """The top chunks for a cursor whose file text before it is ``prefix``, as a ``Context``.

    ``budget`` None takes the ``TOP_K`` best chunks (CrossCodeEval); a number of tokens instead fills that
    budget with chunks in score order, so that BM25 and the packer can be compared at any budget.
    ``read_text`` gives a file's text by repository-relative path.
    """
    snippets: list[Snippet] = []
    used = 0
    lines: dict[str, list[str]] = {}
    k = TOP_K if budget is None else FILL_K
    for score, p, start, end in retriever.search(query_text(prefix), exclude_path=path, k=k):
        if p not in lines:
            lines[p] = read_text(p).split("\n")
        text = "\n".join(lines[p][start - 1 : end])
        tokens = count_tokens(text) + 1
        if budget is not None and used + tokens > budget:
            continue
        snippets.append(Snippet(p, start, end, text, score, "BM25 chunk", tokens))
        used += tokens
    ordered = prompt_order(snippets)
    return Context(ordered, len(ordered), used)
