"""Completions at a cursor: context → prompt → engine → trimmed completion, one function per arrow.

``CompletionService`` owns the loaded model, the engine with its KV cache and the context cache for one
repository index; ``complete`` turns a ``CompletionRequest`` into a ``CompletionResult``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from codeassist import rope
from codeassist.backends import Backend, BackendUnavailable, LocalBackend
from codeassist.context import Context, ContextCache, gather_context
from codeassist.engine import CancelFn, Generation, TokenFn
from codeassist.models import LoadedModel, load_model
from codeassist.packer import PackOptions, Prompt, pack_prompt
from codeassist.position import check_position, split_at
from indexer.index import Index
from indexer.rank import Ranker

log = logging.getLogger(__name__)

MAX_COMPLETION_LINES = 16  # a multi-line completion is cut after this many lines
BACKEND_RETRY_S = 30.0  # after the backend was unavailable, the fallback serves alone this long (seconds)


@dataclass(frozen=True)
class CompletionRequest:
    path: str  # repository-relative
    line: int  # 1-based
    column: int  # 0-based code points
    text: str | None = None  # the unsaved buffer, when it differs from the disk
    use_context: bool = True
    max_new_tokens: int = 64
    single_line: bool = False  # stop at the first newline (line-level completion, as in evaluations)


@dataclass
class CompletionResult:
    completion: str
    model: str
    prompt_tokens: int
    cached_tokens: int | None  # None: the remote engine does not report it
    context_files: list[str]
    rope_scaling: str
    latency_ms: float
    stop_reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    backend: str = "local"  # "local" | "remote": where the completion was generated
    fallback_reason: str | None = None  # why the fallback answered instead of the configured backend
    generated_tokens: int = 0  # tokens the engine generated (the completion may be cut shorter by stop rules)

    def to_json(self) -> dict:
        return asdict(self)


def make_stop_rule(prefix: str, suffix: str, max_lines: int = MAX_COMPLETION_LINES, *, single_line: bool = False):
    """The cut position for decoded text, or None to go on.

    Stops (1) at a line indented less than the cursor's line once a new line starts (the enclosing block
    ended), (2) when the text starts repeating the suffix's next non-blank line, (3) after ``max_lines``.
    A completion that starts mid-statement (code before the cursor that opens no block, or code after the
    cursor on the same line) ends at its newline, and so does any completion when ``single_line`` is set.
    """
    cursor_line = prefix.rsplit("\n", 1)[-1]
    indent = len(cursor_line) - len(cursor_line.lstrip())
    if not cursor_line.strip():
        indent = len(cursor_line)
    rest_of_line = suffix.split("\n", 1)[0]
    next_suffix_line = next((l.strip() for l in suffix.split("\n")[1:] if l.strip()), "")
    opens_block = cursor_line.rstrip().endswith((":", "{", "(", "[", "=>"))
    single_line = single_line or bool(rest_of_line.strip()) or (bool(cursor_line.strip()) and not opens_block)

    def rule(text: str) -> int | None:
        if single_line and "\n" in text:
            return text.index("\n")
        lines = text.split("\n")
        offset = len(lines[0]) + 1
        for i, line in enumerate(lines[1:-1], start=1):  # complete lines after the first
            stripped = line.strip()
            if stripped and (len(line) - len(line.lstrip())) < indent:
                return offset - 1
            if next_suffix_line and stripped == next_suffix_line:
                return offset - 1
            if i >= max_lines:
                return offset - 1
            offset += len(line) + 1
        return None

    return rule


def trim_completion(text: str, suffix: str) -> str:
    """Drops trailing whitespace-only lines and any tail that the suffix already contains."""
    text = text.rstrip(" \t")
    while text.endswith("\n\n"):
        text = text[:-1]
    rest = suffix.split("\n", 1)[0]
    for k in range(min(len(text), len(rest)), 0, -1):
        if text.endswith(rest[:k]) and rest[:k].strip():
            return text[:-k]
    return text


@dataclass
class PreparedPrompt:
    prompt: Prompt
    ids: list[int]  # the prompt's token ids (empty for a remote backend: the engine tokenizes)
    prefix: str  # the buffer's text before the cursor
    suffix: str  # the buffer's text after the cursor
    scaling: dict | None  # RoPE scaling for the prompt plus the generation budget (None: native)
    timings: dict[str, float]  # milliseconds per stage


class CompletionService:
    """Completions for one repository with one model; reusable across requests (and threads, serially)."""

    def __init__(self, index: Index, *, model_name: str | None = None, loaded: LoadedModel | None = None,
                 options: PackOptions | None = None, rope_mode: str = rope.DEFAULT_MODE,
                 index_lock: threading.RLock | None = None, backend: Backend | None = None,
                 fallback: Backend | None = None):
        """``backend`` generates (default: the in-process ``loaded`` or ``model_name`` model); ``fallback``,
        when given, takes over while the backend is unavailable (down, silent, answering garbage)."""
        self.index = index
        self.ranker = Ranker(index)
        self.backend = backend or LocalBackend(loaded or load_model(model_name))
        self.fallback = fallback
        local = self.backend if isinstance(self.backend, LocalBackend) else None
        self.loaded = local.loaded if local else None  # the in-process model; None for a remote backend
        self.engine = local.engine if local else None
        self.options = options or PackOptions()
        self.rope_mode = rope_mode
        self.context_cache = ContextCache()
        self.count_tokens = lru_cache(maxsize=65536)(self.backend.count_tokens)
        self._fallback_count = lru_cache(maxsize=65536)(fallback.count_tokens) if fallback else None
        self._backend_down_until = 0.0  # time.monotonic() before which the fallback answers directly
        self._fallback_reason = ""  # why the backend was last found unavailable
        self.index_lock = index_lock or threading.RLock()  # held while reading the index, not while generating

    def context_for(self, req: CompletionRequest, text: str, count_tokens=None) -> Context:
        if not req.use_context or self.options.context_tokens <= 0:
            return Context([], 0, 0)
        return gather_context(
            self.index, self.ranker, req.path, req.line, req.column, budget=self.options.context_tokens,
            count_tokens=count_tokens or self.count_tokens, cache=self.context_cache, text=text,
        )

    def complete(self, req: CompletionRequest, *, cancel: CancelFn | None = None, on_text: TokenFn | None = None,
                 context: Context | None = None) -> CompletionResult:
        """Completes at the request's cursor; raises engine.Cancelled, PositionError, OSError, BackendError.

        ``context`` replaces the ranked repository context (evaluation baselines such as BM25 use it).
        While the backend is unavailable the fallback (if any) answers, repacking for its model.
        """
        t0 = time.perf_counter()
        backend, reason = self.backend, None
        if self.fallback is not None and time.monotonic() < self._backend_down_until:
            backend, reason = self.fallback, self._fallback_reason
        prepared = self.prepare(req, context=context, backend=backend)
        try:
            gen = self._generate(backend, prepared, req, cancel, on_text)
        except BackendUnavailable as e:
            if self.fallback is None or backend is self.fallback:
                raise
            log.warning("%s; the %s fallback answers for the next %.0f s", e, self.fallback.kind, BACKEND_RETRY_S)
            self._backend_down_until, self._fallback_reason = time.monotonic() + BACKEND_RETRY_S, str(e)
            backend, reason = self.fallback, str(e)
            prepared = self.prepare(req, context=context, backend=backend)
            gen = self._generate(backend, prepared, req, cancel, on_text)
        completion = trim_completion(gen.text, prepared.suffix)
        t3 = time.perf_counter()
        return CompletionResult(
            completion=completion, model=backend.name, prompt_tokens=gen.prompt_tokens,
            cached_tokens=gen.cached_tokens, context_files=prepared.prompt.context_files,
            rope_scaling=gen.rope_scaling, latency_ms=(t3 - t0) * 1000, stop_reason=gen.stop_reason,
            timings={**prepared.timings, "prefill_ms": gen.prefill_ms, "decode_ms": gen.decode_ms},
            backend=backend.kind, fallback_reason=reason, generated_tokens=gen.tokens,
        )

    def _generate(self, backend: Backend, prepared: PreparedPrompt, req: CompletionRequest,
                  cancel: CancelFn | None, on_text: TokenFn | None) -> Generation:
        return backend.generate(
            prepared.prompt.text, max_new_tokens=req.max_new_tokens,
            stop_rule=make_stop_rule(prepared.prefix, prepared.suffix, single_line=req.single_line),
            cancel=cancel, on_text=on_text, rope_mode=self.rope_mode,
        )

    def prepare(self, req: CompletionRequest, *, context: Context | None = None,
                backend: Backend | None = None) -> PreparedPrompt:
        """The packed prompt for a request, tokenized, with the RoPE scaling it needs; no model call.

        ``context`` replaces the ranked repository context; ``backend`` (default: the configured one) sets
        the prompt format and token counts. Raises PositionError, OSError.
        """
        backend = backend or self.backend
        count = self.count_tokens if backend is self.backend else self._fallback_count
        t0 = time.perf_counter()
        with self.index_lock:
            if req.text is not None:
                self.index.update_buffer(req.path, req.text)
            text = req.text if req.text is not None else self.index.read_text(req.path)
            check_position(req.path, text, req.line, req.column)
            prefix, suffix = split_at(text, req.line, req.column)
            if context is None:
                context = self.context_for(req, text, count)
        t1 = time.perf_counter()
        prompt = pack_prompt(backend.format, self.index.root.name, req.path, prefix, suffix, context, self.options, count)
        ids, scaling = [], None  # a remote engine tokenizes and scales RoPE itself
        if isinstance(backend, LocalBackend):
            loaded = backend.loaded
            ids = loaded.tokenizer.encode(prompt.text, add_special_tokens=False)
            scaling = rope.choose_scaling(len(ids) + req.max_new_tokens, loaded.native_context, self.rope_mode)
        t2 = time.perf_counter()
        return PreparedPrompt(prompt, ids, prefix, suffix, scaling,
                              {"context_ms": (t1 - t0) * 1000, "pack_ms": (t2 - t1) * 1000})
