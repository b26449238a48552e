"""Counting prompt tokens for a model that runs elsewhere: its own tokenizer when one is on this machine,
else a documented estimate that errs on the side of too many tokens.

The packer budgets context in tokens and the remote backend checks a prompt against the engine's window
before sending it, so both need a count. Nothing is downloaded: a hub id is looked up in the local
Hugging Face cache only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from codeassist import weights

log = logging.getLogger(__name__)

# The estimate: UTF-8 bytes per token, measured with Qwen2.5-Coder's tokenizer on the 80 source and
# documentation files of this repository (median 3.9 bytes/token for code; the densest file, JSON, 2.35).
TYPICAL_BYTES_PER_TOKEN = 3.9
# Divides the typical ratio: 3.9 / 1.7 = 2.3 bytes/token, below the densest file measured, so the estimate
# overcounts (a smaller context, a window check that refuses early) rather than overflowing the window.
SAFETY_MARGIN = 1.7


class TokenCounter(Protocol):
    name: str  # where the counts come from: a tokenizer's source, or "estimate"
    exact: bool  # True when the counts are the model's own tokens

    def count(self, text: str) -> int:
        """Tokens in ``text`` (no special tokens added)."""


@dataclass
class ModelTokenizer:
    """Exact counts from a Hugging Face tokenizer."""

    tokenizer: Any
    name: str
    exact: bool = True

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))


@dataclass
class EstimatedTokenizer:
    """``ceil(utf8_bytes * SAFETY_MARGIN / TYPICAL_BYTES_PER_TOKEN)`` tokens: an upper estimate for code."""

    name: str = "estimate"
    exact: bool = False

    def count(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8")) * SAFETY_MARGIN / TYPICAL_BYTES_PER_TOKEN)


def _default_source() -> Path:
    """The built-in model's tokenizer: its converted checkpoint when cached, else the GGUF itself."""
    from codeassist.models import _converted_dir

    converted = _converted_dir(weights.DEFAULT_GGUF_SHA256)
    return converted if (converted / "tokenizer_config.json").is_file() else weights.default_gguf_path()


def _names_default(source: str) -> bool:
    """True for the names an engine may serve the built-in model under (its name, file name or path)."""
    lowered = source.lower()
    stem = Path(lowered).name.removesuffix(".gguf")
    return lowered == "default" or stem in (weights.DEFAULT_MODEL_NAME.lower(), weights.DEFAULT_GGUF_FILENAME.removesuffix(".gguf"))


def load_tokenizer(source: str) -> Any | None:
    """A Hugging Face tokenizer from a model name, directory, ``.gguf`` file or cached hub id; None if none is here.

    ``source`` is what the user configured (``--tokenizer``) or the served model's name; the built-in
    model is recognised by its name or file name.
    """
    path = _default_source() if _names_default(source) else Path(source).expanduser()
    is_gguf = path.suffix == ".gguf" and path.is_file()
    is_hub_id = not path.exists() and source.count("/") == 1 and not source.startswith((".", "/", "~"))
    if not (path.is_dir() or is_gguf or is_hub_id):
        return None
    from transformers import AutoTokenizer

    try:
        if is_gguf:
            return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        if is_hub_id:
            return AutoTokenizer.from_pretrained(source, local_files_only=True)  # the local cache only
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:
        log.info("no tokenizer from %s: %s", source, e)
        return None


def token_counter(*sources: str | None) -> TokenCounter:
    """Exact counts from the first source that yields a tokenizer, else the estimate (logged once)."""
    for source in sources:
        if source and (tokenizer := load_tokenizer(source)) is not None:
            return ModelTokenizer(tokenizer, source)
    log.warning("no local tokenizer for %s: budgeting with an estimate of %.1f bytes per token",
                " or ".join(s for s in sources if s) or "the remote model", TYPICAL_BYTES_PER_TOKEN / SAFETY_MARGIN)
    return EstimatedTokenizer()
