"""Completing (or scoring) every case under every condition through the real completion engine.

Conditions differ only in the repository context put into the same packed prompt:
- ``infile``: none; the model sees the target file's text before the cursor.
- ``bm25``: CrossCodeEval's baseline, the top ``bm25.TOP_K`` ten-line chunks of other files.
- ``packed``: codeassist's context (``context.gather_context``: ranked definitions and similar code) at
  the same token budget as the ``bm25`` context of the same case (or ``budget`` tokens for both, when given).

The model never sees the target file's text after the cursor: the buffer given to the engine (and to
the index's in-memory overlay, which ranking reads) is the text before the cursor, the stable tier is ranked
afresh per case, similar code and BM25 chunks come from the files as on disk without the target file, and
``leak_guard`` rejects any context that quotes the target file.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from codeassist.completion import CompletionRequest, CompletionService
from codeassist.context import Context, ContextCache, gather_context
from codeassist.evaluation.bm25 import bm25_context
from codeassist.similar import SimilarIndex
from codeassist.evaluation.cases import Case
from codeassist.evaluation.metrics import paired_bootstrap, score_prediction

CONDITIONS = ("infile", "bm25", "packed")
MAX_NEW_TOKENS = 48  # a line rarely needs more; generation stops at the first newline anyway
METRICS = ("em", "es", "id_em", "id_f1")

ProgressFn = Callable[[int, int], None]  # (done, total)


class LeakError(AssertionError):
    """A context would show the model part of the target file."""


def leak_guard(case: Case, context: Context) -> None:
    """Raises LeakError when any snippet comes from the case's target file."""
    for s in context.snippets:
        if s.path == case.path:
            raise LeakError(f"{case.id}: context quotes the target file ({s.path}:{s.start_line}-{s.end_line})")


@dataclass
class CaseResult:
    case: str  # Case.id
    kind: str  # "crossfile" | "infile"
    condition: str
    prediction: str  # the completion's first line ("" in score mode)
    metrics: dict[str, float]  # em, es, id_em, id_f1 in [0, 1]; in score mode logprob (nats per token)
    latency_ms: float
    prompt_tokens: int
    context_tokens: int
    context_files: list[str] = field(default_factory=list)


class Evaluator:
    """Runs cases for one repository index with one loaded completion service."""

    def __init__(self, service: CompletionService, *, budget: int | None = None, max_new_tokens: int = MAX_NEW_TOKENS):
        self.service = service
        self.index = service.index
        self.budget = budget  # tokens of context for bm25 and packed; None: packed matches bm25 per case
        self.max_new_tokens = max_new_tokens
        self._cache = ContextCache()  # its tiers are reset per case; its similar-code index is kept

    @property
    def retriever(self) -> SimilarIndex:
        """BM25 over the Python files as on disk: the packer's own similar-code index, built once."""
        return self._cache.similar(self.index, "python")

    def contexts(self, case: Case, prefix: str, conditions: tuple[str, ...]) -> dict[str, Context]:
        """The context of each condition for one case (the index must hold ``prefix`` as the buffer)."""
        out: dict[str, Context] = {}
        bm25 = None
        if "bm25" in conditions or ("packed" in conditions and self.budget is None):
            bm25 = bm25_context(self.retriever, case.path, prefix, self.index.read_text, budget=self.budget,
                                count_tokens=self.service.count_tokens)
        for cond in conditions:
            if cond == "infile":
                ctx = Context([], 0, 0)
            elif cond == "bm25":
                ctx = bm25
            elif cond == "packed":
                budget = self.budget if self.budget is not None else bm25.tokens
                self._cache.reset_tiers()
                ctx = gather_context(
                    self.index, self.service.ranker, case.path, case.line, case.column, budget=budget,
                    count_tokens=self.service.count_tokens, cache=self._cache, text=prefix,
                ) if budget > 0 else Context([], 0, 0)
            else:
                raise ValueError(f"unknown condition {cond!r} (choose from {', '.join(CONDITIONS)})")
            leak_guard(case, ctx)
            out[cond] = ctx
        return out

    def run_case(self, case: Case, conditions: tuple[str, ...], *, score: bool = False) -> list[CaseResult]:
        """One result per condition; raises OSError when the file cannot be read."""
        with self.service.index_lock:
            self._drop_buffers()  # earlier cases' prefixes: every other file is whole again
            text = self.index.read_text(case.path)
            if case.line > text.count("\n") + 1 or text.split("\n")[case.line - 1][case.column:].rstrip() != case.target:
                raise ValueError(f"{case.id}: the file no longer has this case's line; extract the cases again")
            prefix = case.prefix(text)
            self.index.update_buffer(case.path, prefix)
            contexts = self.contexts(case, prefix, conditions)
        results = []
        for cond in conditions:
            req = CompletionRequest(case.path, case.line, case.column, text=prefix,
                                    max_new_tokens=self.max_new_tokens, single_line=True)
            t0 = time.perf_counter()
            if score:
                prepared = self.service.prepare(req, context=contexts[cond])
                target_ids = self.service.loaded.tokenizer.encode(case.target, add_special_tokens=False)
                logprobs = self.service.engine.score(prepared.ids, target_ids, scaling=prepared.scaling)
                prediction, metrics = "", {"logprob": sum(logprobs) / len(logprobs)}
                prompt_tokens = len(prepared.ids)
                files = prepared.prompt.context_files
            else:
                result = self.service.complete(req, context=contexts[cond])
                prediction = result.completion.split("\n", 1)[0]
                metrics = score_prediction(prediction, case.target)
                prompt_tokens, files = result.prompt_tokens, result.context_files
            results.append(CaseResult(case.id, case.kind, cond, prediction, metrics,
                                      (time.perf_counter() - t0) * 1000, prompt_tokens, contexts[cond].tokens, files))
        return results

    def run(self, cases: list[Case], conditions: tuple[str, ...], *, score: bool = False,
            progress: ProgressFn | None = None) -> list[CaseResult]:
        """All cases under all conditions, in case order; the index's buffer overlay is empty after.

        Each case sees exactly one truncated file, its own: every other file is ranked, chunked and quoted whole.
        """
        results: list[CaseResult] = []
        with self.service.index_lock:
            self._drop_buffers()
            if "bm25" in conditions or "packed" in conditions:
                self.retriever  # built before the first case (from the files as on disk, never a case's prefix)
        try:
            for i, case in enumerate(cases):
                results.extend(self.run_case(case, conditions, score=score))
                if progress:
                    progress(i + 1, len(cases))
        finally:
            self._drop_buffers()
        return results

    def _drop_buffers(self) -> None:
        for path in list(self.index.buffers):
            self.index.drop_buffer(path)


def summarize(results: list[CaseResult], conditions: tuple[str, ...], *, seed: int = 0) -> dict:
    """Per (kind, condition) means and paired differences with bootstrap intervals, JSON-ready.

    ``{"conditions": {kind: {cond: {metric: mean, "latency_ms", "prompt_tokens", "context_tokens", "n"}}},
    "differences": {kind: {"a-b": {metric: [mean, low, high]}}}}``; metrics are in [0, 1] (logprob: nats/token).
    """
    by: dict[tuple[str, str], dict[str, CaseResult]] = {}
    for r in results:
        by.setdefault((r.kind, r.condition), {})[r.case] = r
    kinds = sorted({r.kind for r in results})
    summary: dict = {"conditions": {}, "differences": {}}
    for kind in kinds:
        summary["conditions"][kind] = {}
        for cond in conditions:
            rows = list(by.get((kind, cond), {}).values())
            if not rows:
                continue
            metric_names = list(rows[0].metrics)
            entry = {m: statistics.fmean(r.metrics[m] for r in rows) for m in metric_names}
            entry |= {"latency_ms": statistics.fmean(r.latency_ms for r in rows),
                      "prompt_tokens": statistics.fmean(r.prompt_tokens for r in rows),
                      "context_tokens": statistics.fmean(r.context_tokens for r in rows), "n": len(rows)}
            summary["conditions"][kind][cond] = entry
        summary["differences"][kind] = {}
        for a, b in _pairs(conditions):
            ra, rb = by.get((kind, a), {}), by.get((kind, b), {})
            ids = sorted(set(ra) & set(rb))
            if not ids:
                continue
            metric_names = list(ra[ids[0]].metrics)
            summary["differences"][kind][f"{a}-{b}"] = {
                m: list(paired_bootstrap([ra[i].metrics[m] for i in ids], [rb[i].metrics[m] for i in ids], seed=seed))
                for m in metric_names
            }
    return summary


def _pairs(conditions: tuple[str, ...]) -> list[tuple[str, str]]:
    """packed-infile, packed-bm25, bm25-infile ...: later (richer) conditions minus earlier ones."""
    order = [c for c in CONDITIONS if c in conditions] + [c for c in conditions if c not in CONDITIONS]
    return [(order[j], order[i]) for j in range(len(order)) for i in range(j)]


def results_json(results: list[CaseResult]) -> list[dict]:
    return [asdict(r) for r in results]
