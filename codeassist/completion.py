"""Completions at a cursor: context → prompt → engine → trimmed completion, one function per arrow.

``CompletionService`` owns the loaded model, the engine with its KV cache and the context cache for one
repository index; ``complete`` turns a ``CompletionRequest`` into a ``CompletionResult``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from codeassist import rope
from codeassist.context import Context, ContextCache, gather_context
from codeassist.engine import CancelFn, Engine, TokenFn
from codeassist.formats import detect_format, stop_token_ids
from codeassist.models import LoadedModel, load_model
from codeassist.packer import PackOptions, pack_prompt
from codeassist.position import check_position, split_at
from indexer.index import Index
from indexer.rank import Ranker

MAX_COMPLETION_LINES = 16  # a multi-line completion is cut after this many lines


@dataclass(frozen=True)
class CompletionRequest:
    path: str  # repository-relative
    line: int  # 1-based
    column: int  # 0-based code points
    text: str | None = None  # the unsaved buffer, when it differs from the disk
    use_context: bool = True
    max_new_tokens: int = 64


@dataclass
class CompletionResult:
    completion: str
    model: str
    prompt_tokens: int
    cached_tokens: int
    context_files: list[str]
    rope_scaling: str
    latency_ms: float
    stop_reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage

    def to_json(self) -> dict:
        return asdict(self)


def make_stop_rule(prefix: str, suffix: str, max_lines: int = MAX_COMPLETION_LINES):
    """The cut position for decoded text, or None to go on.

    Stops (1) at a line indented less than the cursor's line once a new line starts (the enclosing block
    ended), (2) when the text starts repeating the suffix's next non-blank line, (3) after ``max_lines``.
    A completion that starts mid-statement (code before the cursor that opens no block, or code after the
    cursor on the same line) ends at its newline.
    """
    cursor_line = prefix.rsplit("\n", 1)[-1]
    indent = len(cursor_line) - len(cursor_line.lstrip())
    if not cursor_line.strip():
        indent = len(cursor_line)
    rest_of_line = suffix.split("\n", 1)[0]
    next_suffix_line = next((l.strip() for l in suffix.split("\n")[1:] if l.strip()), "")
    opens_block = cursor_line.rstrip().endswith((":", "{", "(", "[", "=>"))
    single_line = bool(rest_of_line.strip()) or (bool(cursor_line.strip()) and not opens_block)

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


class CompletionService:
    """Completions for one repository with one model; reusable across requests (and threads, serially)."""

    def __init__(self, index: Index, *, model_name: str | None = None, loaded: LoadedModel | None = None,
                 options: PackOptions | None = None, rope_mode: str = rope.DEFAULT_MODE,
                 index_lock: threading.RLock | None = None):
        self.index = index
        self.ranker = Ranker(index)
        self.loaded = loaded or load_model(model_name)
        self.engine = Engine(self.loaded.model, self.loaded.tokenizer)
        self.format = detect_format(self.loaded.tokenizer)
        self.stop_ids = stop_token_ids(self.loaded.tokenizer, self.format)
        self.options = options or PackOptions()
        self.rope_mode = rope_mode
        self.context_cache = ContextCache()
        self.count_tokens = lru_cache(maxsize=65536)(self._count_tokens)
        self.index_lock = index_lock or threading.RLock()  # held while reading the index, not while generating

    def _count_tokens(self, text: str) -> int:
        return len(self.loaded.tokenizer.encode(text, add_special_tokens=False))

    def context_for(self, req: CompletionRequest, text: str) -> Context:
        if not req.use_context or self.options.context_tokens <= 0:
            return Context([], 0, 0)
        return gather_context(
            self.index, self.ranker, req.path, req.line, req.column, budget=self.options.context_tokens,
            count_tokens=self.count_tokens, cache=self.context_cache, text=text,
        )

    def complete(self, req: CompletionRequest, *, cancel: CancelFn | None = None, on_text: TokenFn | None = None,
                 context: Context | None = None) -> CompletionResult:
        """Completes at the request's cursor; raises engine.Cancelled, PositionError, OSError.

        ``context`` replaces the ranked repository context (evaluation baselines such as BM25 use it).
        """
        t0 = time.perf_counter()
        with self.index_lock:
            if req.text is not None:
                self.index.update_buffer(req.path, req.text)
            text = req.text if req.text is not None else self.index.read_text(req.path)
            check_position(req.path, text, req.line, req.column)
            prefix, suffix = split_at(text, req.line, req.column)
            if context is None:
                context = self.context_for(req, text)
        t1 = time.perf_counter()
        prompt = pack_prompt(self.format, self.index.root.name, req.path, prefix, suffix, context, self.options, self.count_tokens)
        ids = self.loaded.tokenizer.encode(prompt.text, add_special_tokens=False)
        scaling = rope.choose_scaling(len(ids) + req.max_new_tokens, self.loaded.native_context, self.rope_mode)
        t2 = time.perf_counter()
        gen = self.engine.generate(
            ids, max_new_tokens=req.max_new_tokens, stop_ids=self.stop_ids,
            stop_rule=make_stop_rule(prefix, suffix), cancel=cancel, on_text=on_text, scaling=scaling,
        )
        completion = trim_completion(gen.text, suffix)
        t3 = time.perf_counter()
        return CompletionResult(
            completion=completion, model=self.loaded.name, prompt_tokens=gen.prompt_tokens,
            cached_tokens=gen.cached_tokens, context_files=prompt.context_files, rope_scaling=gen.rope_scaling,
            latency_ms=(t3 - t0) * 1000, stop_reason=gen.stop_reason,
            timings={"context_ms": (t1 - t0) * 1000, "pack_ms": (t2 - t1) * 1000,
                     "prefill_ms": gen.prefill_ms, "decode_ms": gen.decode_ms},
        )
