"""Prompt formats per model family, detected from the tokenizer's special tokens.

- ``qwen``: Qwen2.5-Coder's repo-level FIM (``<|repo_name|>``, ``<|file_sep|>``, ``<|fim_prefix|>`` …);
- ``starcoder``: StarCoder's ``<repo_name>``, ``<file_sep>``, ``<fim_prefix>`` …;
- ``plain``: no FIM; files appear as path comments and the model continues the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PromptFormat:
    name: str
    fim: bool
    repo_level: bool
    repo_name: str = ""
    file_sep: str = ""
    fim_prefix: str = ""
    fim_suffix: str = ""
    fim_middle: str = ""
    stop_tokens: tuple[str, ...] = ()  # generation ends at any of these (and at the tokenizer's EOS)

    def render_file(self, path: str, body: str) -> str:
        """One repository file (or its snippets) as it appears in the context part of the prompt."""
        if self.repo_level:
            return f"{self.file_sep}{path}\n{body}\n"
        return f"# file: {path}\n{body}\n\n"

    def render_header(self, repo: str) -> str:
        return f"{self.repo_name}{repo}\n" if self.repo_level else ""

    def render_cursor(self, path: str, prefix: str, suffix: str) -> str:
        """The volatile tail: the current file's path, prefix and suffix around the cursor."""
        if self.fim:
            head = f"{self.file_sep}{path}\n" if self.repo_level else ""
            return f"{head}{self.fim_prefix}{prefix}{self.fim_suffix}{suffix}{self.fim_middle}"
        return f"# file: {path}\n{prefix}"


QWEN = PromptFormat(
    "qwen", True, True, "<|repo_name|>", "<|file_sep|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
    ("<|file_sep|>", "<|fim_pad|>", "<|endoftext|>", "<|im_end|>", "<|repo_name|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
)
STARCODER = PromptFormat(
    "starcoder", True, True, "<repo_name>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
    ("<file_sep>", "<|endoftext|>", "<repo_name>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>"),
)
PLAIN = PromptFormat("plain", False, False)


def detect_format(tokenizer: Any) -> PromptFormat:
    """The richest format whose special tokens all exist in the tokenizer's vocabulary."""
    vocab = tokenizer.get_vocab()
    for fmt in (QWEN, STARCODER):
        needed = (fmt.repo_name, fmt.file_sep, fmt.fim_prefix, fmt.fim_suffix, fmt.fim_middle)
        if all(t in vocab for t in needed):
            return fmt
    return PLAIN


def stop_token_ids(tokenizer: Any, fmt: PromptFormat) -> set[int]:
    vocab = tokenizer.get_vocab()
    ids = {vocab[t] for t in fmt.stop_tokens if t in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids
