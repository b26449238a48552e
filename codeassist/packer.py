"""Packing repository context and the cursor's surroundings into one prompt for a code LM.

Layout, most stable first so that consecutive requests share the longest token prefix (and the engine's
KV cache): repository header → context files (stable tier, deterministic order) → volatile tier → the
current file's path, prefix, suffix. The prefix is cut at a line boundary aligned to
``PREFIX_ALIGN_LINES`` so that typing does not move its start on every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from codeassist.context import Context
from codeassist.formats import PromptFormat

PREFIX_ALIGN_LINES = 32  # the prefix starts on a multiple of this many lines (cache stability)


@dataclass(frozen=True)
class PackOptions:
    """Token budget split for one prompt (all in tokens)."""

    context_tokens: int = 1536  # repository context; 0 disables it
    prefix_tokens: int = 1024  # the current file before the cursor
    suffix_tokens: int = 256  # the current file after the cursor
    max_new_tokens: int = 64  # reserved for generation


@dataclass(frozen=True)
class Prompt:
    text: str
    stable_prefix_chars: int  # characters of ``text`` that do not depend on the cursor position
    context_files: list[str]
    prefix_start_line: int  # 1-based line of the current file where the prefix starts


def _take_suffix_lines(text: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest run of whole lines from the start of ``text`` within ``budget`` tokens."""
    lines = text.split("\n")
    out, used = [], 0
    for i, line in enumerate(lines):
        piece = line if i == len(lines) - 1 else line + "\n"
        t = count(piece)
        if used + t > budget:
            break
        out.append(piece)
        used += t
    return "".join(out)


def _prefix_start(prefix: str, budget: int, count: Callable[[str], int]) -> int:
    """0-based line where the prefix should start to fit ``budget`` tokens, aligned for cache stability."""
    lines = prefix.split("\n")
    used, start = 0, len(lines)
    for i in range(len(lines) - 1, -1, -1):
        used += count(lines[i] + "\n")
        if used > budget:
            break
        start = i
    if start == 0:
        return 0
    aligned = -(-start // PREFIX_ALIGN_LINES) * PREFIX_ALIGN_LINES  # round up: never over budget
    return min(aligned, len(lines) - 1)


def pack_prompt(
    fmt: PromptFormat,
    repo_name: str,
    path: str,
    prefix: str,
    suffix: str,
    context: Context,
    options: PackOptions,
    count_tokens: Callable[[str], int],
) -> Prompt:
    """Lays out one prompt; ``prefix``/``suffix`` are the current file's text around the cursor."""
    start = _prefix_start(prefix, options.prefix_tokens, count_tokens)
    prefix = "\n".join(prefix.split("\n")[start:])
    suffix = _take_suffix_lines(suffix, options.suffix_tokens, count_tokens) if fmt.fim else ""
    parts = [fmt.render_header(repo_name)]
    stable_chars = len(parts[0])
    for tier in (context.snippets[: context.stable_count], context.snippets[context.stable_count :]):
        by_file: dict[str, list[str]] = {}
        for s in tier:
            by_file.setdefault(s.path, []).append(s.text)
        for file_path, texts in by_file.items():
            parts.append(fmt.render_file(file_path, "\n\n".join(texts)))
        if tier is not context.snippets[context.stable_count :]:
            stable_chars = sum(len(p) for p in parts)
    parts.append(fmt.render_cursor(path, prefix, suffix))
    return Prompt("".join(parts), stable_chars, context.files, start + 1)
