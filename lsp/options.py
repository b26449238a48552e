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
    backend: str | None = None  # local | remote (an OpenAI-compatible engine); None: $CODEASSIST_BACKEND or local
    endpoint: str | None = None  # remote: the engine's base URL
    remote_model: str | None = None  # remote: the served model (None: the engine's first)
    api_key: str | None = None  # remote: bearer token (None: $CODEASSIST_API_KEY)
    tokenizer: str | None = None  # remote: tokenizer for budgeting (None: remote_model, else an estimate)
    fallback: str | None = None  # none | local: the in-process model answers while the engine is unavailable
    request_timeout: float | None = None  # remote: longest silence from the engine (seconds; None: 30)

    def backend_options(self):
        """These settings as ``codeassist.backends.BackendOptions`` (unset ones from CODEASSIST_* variables)."""
        import os

        from codeassist.backends import BACKEND_ENV, BackendOptions, config_file_options

        kind = self.backend or os.environ.get(BACKEND_ENV) or config_file_options().get("backend") or "local"
        return BackendOptions.from_env(
            backend=kind, model=self.remote_model if kind == "remote" else self.model, endpoint=self.endpoint,
            api_key=self.api_key, tokenizer=self.tokenizer, fallback=self.fallback, timeout_s=self.request_timeout,
            local_model=self.model)


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
               "inlineCompletion": "inline_completion", "remoteModel": "remote_model", "apiKey": "api_key",
               "requestTimeout": "request_timeout"}
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
            "backend": lambda v: v is None or v in ("local", "remote"),
            "endpoint": lambda v: v is None or (isinstance(v, str) and v.startswith(("http://", "https://"))),
            "remote_model": lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
            "api_key": lambda v: v is None or isinstance(v, str),
            "tokenizer": lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
            "fallback": lambda v: v is None or v in ("none", "local"),
            "request_timeout": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 600),
        }[name](value)
        if not ok:
            errors.append(f"setting {key!r} has a bad value {value!r}; using {getattr(defaults, name)!r}")
            continue
        values[name] = tuple(value) if name == "languages" else value
    return ServerOptions(**values), errors
