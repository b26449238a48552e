"""Server settings: parsed once from ``initializationOptions`` (and ``didChangeConfiguration``), each with a default."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from codeassist.rope import MODES
from indexer.languages import LANGUAGES

MAX_DOCUMENT_BYTES = 1_000_000  # larger documents get no completions (and are not parsed per keystroke)


@dataclass(frozen=True)
class ServerOptions:
    model: str | None = None  # None: $CODEASSIST_MODEL or the built-in default
    context_tokens: int = 1024  # repository context budget per completion
    max_new_tokens: int = 48  # per completion
    rope_scaling: str = "yarn"  # yarn | dynamic | linear | none, beyond the model's window
    languages: tuple[str, ...] = field(default_factory=lambda: tuple(sorted({l.name for l in LANGUAGES})))
    inline_completion: bool = True


def parse_options(raw: Any) -> tuple[ServerOptions, list[str]]:
    """Options from a client's JSON object; each bad value is replaced by its default and reported."""
    if raw is None:
        return ServerOptions(), []
    if not isinstance(raw, dict):
        return ServerOptions(), [f"initializationOptions must be an object, got {type(raw).__name__}"]
    defaults = ServerOptions()
    values: dict[str, Any] = {}
    errors: list[str] = []
    aliases = {"contextTokens": "context_tokens", "maxNewTokens": "max_new_tokens", "ropeScaling": "rope_scaling",
               "inlineCompletion": "inline_completion"}
    known = {f.name for f in fields(ServerOptions)}
    for key, value in raw.items():
        name = aliases.get(key, key)
        if name not in known:
            errors.append(f"unknown setting {key!r} ignored")
            continue
        ok = {
            "model": lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
            "context_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 131072,
            "max_new_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1024,
            "rope_scaling": lambda v: v in MODES,
            "languages": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "inline_completion": lambda v: isinstance(v, bool),
        }[name](value)
        if not ok:
            errors.append(f"setting {key!r} has a bad value {value!r}; using {getattr(defaults, name)!r}")
            continue
        values[name] = tuple(value) if name == "languages" else value
    return ServerOptions(**values), errors
