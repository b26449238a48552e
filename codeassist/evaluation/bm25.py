"""CrossCodeEval's retrieval baseline: BM25 over ten-line chunks of the repository's other files.

The query is the last ``QUERY_LINES`` lines before the cursor, each once (the packer weighs the cursor's line
more); the top ``TOP_K`` chunks of files other than the target file become the context, laid out like the
packer's snippets. The windows, tokens and BM25 are the packer's own similar-code search
(``codeassist.similar``, the same index), over every Python file as it is on disk; the baseline quotes windows
only, where the packer adds ranked definitions.
"""

from __future__ import annotations

from codeassist.context import Context, prompt_order
from codeassist.similar import QUERY_LINES, ReadText, SimilarIndex, similar_snippets
from indexer.rank import TokenCounter, estimate_tokens

TOP_K = 5  # chunks retrieved per case
FILL_K = 100  # chunks considered when filling a fixed token budget instead
REASON = "BM25 chunk"


def bm25_context(retriever: SimilarIndex, path: str, prefix: str, read_text: ReadText, *, budget: int | None = None,
                 count_tokens: TokenCounter = estimate_tokens) -> Context:
    """The top chunks for a cursor whose file text before it is ``prefix``, as a ``Context``.

    ``budget`` None takes the ``TOP_K`` best chunks (CrossCodeEval); a number of tokens instead fills that
    budget with chunks in score order, so that BM25 and the packer can be compared at any budget.
    ``read_text`` gives a file's text by repository-relative path.
    """
    snippets = similar_snippets(retriever, path, prefix, read_text, budget=budget, count_tokens=count_tokens,
                                k=TOP_K if budget is None else FILL_K, reason=REASON, cursor_line=False)
    ordered = prompt_order(snippets)
    return Context(ordered, len(ordered), sum(s.tokens for s in snippets))
