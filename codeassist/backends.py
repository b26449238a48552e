"""Where completions are generated: the in-process engine or a remote inference engine, behind one interface.

A ``Backend`` turns a packed prompt (text) into an ``engine.Generation`` and tells the packer how to count
tokens and which prompt format its model speaks. ``LocalBackend`` runs the transformers engine in this
process; ``remote.RemoteBackend`` talks to an OpenAI-compatible server (vLLM, llama.cpp, TGI).
``BackendOptions`` gathers the settings from flags, environment variables or LSP options, and
``open_backends`` builds the primary backend and the optional local fallback.
"""

from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from codeassist import rope
from codeassist.engine import CancelFn, Engine, Generation, StopFn, TokenFn
from codeassist.formats import PromptFormat, detect_format, stop_token_ids
from codeassist.models import LoadedModel, load_model

BACKENDS = ("local", "remote")
FALLBACKS = ("none", "local")
# Environment variables, read when the flag or LSP setting is not given.
BACKEND_ENV = "CODEASSIST_BACKEND"  # local | remote
ENDPOINT_ENV = "CODEASSIST_ENDPOINT"  # the engine's base URL, e.g. http://gpu-box:8000
REMOTE_MODEL_ENV = "CODEASSIST_REMOTE_MODEL"  # the served model's name
API_KEY_ENV = "CODEASSIST_API_KEY"  # sent as a bearer token
TOKENIZER_ENV = "CODEASSIST_TOKENIZER"  # tokenizer for budgeting: a model name, directory, .gguf or hub id
FALLBACK_ENV = "CODEASSIST_FALLBACK"  # none | local
TIMEOUT_ENV = "CODEASSIST_TIMEOUT"  # seconds to wait for the engine's next byte
CONFIG_ENV = "CODEASSIST_CONFIG"  # a TOML file with a [backend] table; default ~/.config/codeassist/config.toml
CONFIG_KEYS = {"backend": "backend", "endpoint": "endpoint", "model": "model", "tokenizer": "tokenizer",
               "fallback": "fallback", "timeout": "timeout_s"}  # [backend] key -> option (no api_key: secrets stay in the environment)
DEFAULT_TIMEOUT_S = 30.0  # longest silence from the engine before a request fails (seconds)


class BackendError(RuntimeError):
    """The backend cannot complete this request as configured (bad key, unknown model, bad settings)."""


class BackendUnavailable(BackendError):
    """The engine is down, too slow or answered garbage; a configured fallback takes over."""


class ContextWindowError(BackendError):
    """The prompt does not fit the engine's context window; nothing was truncated."""


class Backend(Protocol):
    kind: str  # "local" | "remote"
    name: str  # the model, as results report it
    format: PromptFormat

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` as this backend's model counts them (or an upper estimate)."""

    def generate(self, prompt: str, *, max_new_tokens: int, stop_rule: StopFn | None = None,
                 cancel: CancelFn | None = None, on_text: TokenFn | None = None,
                 rope_mode: str = rope.DEFAULT_MODE) -> Generation:
        """Greedy completion of ``prompt``; raises engine.Cancelled, BackendError."""


class LocalBackend:
    """The transformers engine in this process; loads its model on first use unless given one."""

    kind = "local"

    def __init__(self, loaded: LoadedModel | None = None, *, model_name: str | None = None):
        self._loaded = loaded
        self._model_name = model_name
        self._engine: Engine | None = None
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = load_model(self._model_name)
            return self._loaded

    @property
    def engine(self) -> Engine:
        loaded = self.loaded
        with self._load_lock:
            if self._engine is None:
                self._engine = Engine(loaded.model, loaded.tokenizer)
            return self._engine

    @property
    def name(self) -> str:
        return self.loaded.name

    @cached_property
    def format(self) -> PromptFormat:
        return detect_format(self.loaded.tokenizer)

    @cached_property
    def stop_ids(self) -> set[int]:
        return stop_token_ids(self.loaded.tokenizer, self.format)

    def count_tokens(self, text: str) -> int:
        return len(self.loaded.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, prompt: str, *, max_new_tokens: int, stop_rule: StopFn | None = None,
                 cancel: CancelFn | None = None, on_text: TokenFn | None = None,
                 rope_mode: str = rope.DEFAULT_MODE) -> Generation:
        """Encodes ``prompt`` and decodes greedily, scaling RoPE beyond the model's native window."""
        loaded = self.loaded
        ids = loaded.tokenizer.encode(prompt, add_special_tokens=False)
        scaling = rope.choose_scaling(len(ids) + max_new_tokens, loaded.native_context, rope_mode)
        return self.engine.generate(
            ids, max_new_tokens=max_new_tokens, stop_ids=self.stop_ids,
            stop_rule=stop_rule, cancel=cancel, on_text=on_text, scaling=scaling,
        )


@dataclass(frozen=True)
class BackendOptions:
    """Which backend completes, and how to reach it; ``from_env`` fills what was not given."""

    backend: str = "local"  # local | remote
    model: str | None = None  # local: the model to load; remote: the served model (None: the engine's first)
    endpoint: str | None = None  # remote: base URL, e.g. http://127.0.0.1:8080 (a trailing /v1 is fine)
    api_key: str | None = None  # remote: bearer token
    tokenizer: str | None = None  # remote: tokenizer for budgeting (None: the model name, else an estimate)
    timeout_s: float = DEFAULT_TIMEOUT_S  # remote: longest wait for the engine's next byte (seconds)
    fallback: str = "none"  # none | local: the in-process model takes over when the engine is unavailable
    local_model: str | None = None  # the fallback's model (None: $CODEASSIST_MODEL or the built-in default)

    @classmethod
    def from_env(cls, **given: object) -> "BackendOptions":
        """Options from ``given`` (None values ignored), then the environment, then the defaults; checked."""
        env = {"backend": BACKEND_ENV, "endpoint": ENDPOINT_ENV, "api_key": API_KEY_ENV,
               "tokenizer": TOKENIZER_ENV, "fallback": FALLBACK_ENV, "timeout_s": TIMEOUT_ENV}
        values = {k: v for k, v in given.items() if v is not None}
        for name, var in env.items():
            if name not in values and os.environ.get(var):
                values[name] = os.environ[var]
        config = config_file_options()
        for name, value in config.items():
            if name != "model":
                values.setdefault(name, value)
        if values.get("backend") == "remote" and "model" not in values:
            served = os.environ.get(REMOTE_MODEL_ENV) or config.get("model")
            if served:
                values["model"] = served
        if "timeout_s" in values:
            try:
                values["timeout_s"] = float(values["timeout_s"])
            except ValueError:
                raise BackendError(f"timeout {values['timeout_s']!r} is not a number of seconds") from None
        options = cls(**values)
        options.check()
        return options

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise BackendError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.fallback not in FALLBACKS:
            raise BackendError(f"unknown fallback {self.fallback!r}; choose one of {', '.join(FALLBACKS)}")
        if self.backend == "remote" and not self.endpoint:
            raise BackendError(f"the remote backend needs an endpoint: --endpoint URL or ${ENDPOINT_ENV}")
        if not self.timeout_s > 0:
            raise BackendError(f"timeout must be positive, got {self.timeout_s}")


def config_file_options(path: Path | None = None) -> dict[str, object]:
    """The [backend] table of the config file as BackendOptions fields ({} when there is no file).

    The file is ``path``, else ``$CODEASSIST_CONFIG`` (which must exist), else ``~/.config/codeassist/config.toml``.
    Flags and environment variables win over it. Raises BackendError naming the file and the bad key.
    """
    named = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    path = named or Path.home() / ".config" / "codeassist" / "config.toml"
    if not path.is_file():
        if named:
            raise BackendError(f"{path}: no such config file (${CONFIG_ENV})")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise BackendError(f"{path}: not a readable TOML file ({e})") from None
    table = data.get("backend", {})
    if not isinstance(table, dict):
        raise BackendError(f"{path}: [backend] must be a table")
    out: dict[str, object] = {}
    for key, value in table.items():
        if key not in CONFIG_KEYS:
            raise BackendError(f"{path}: unknown key {key!r} in [backend]; known: {', '.join(CONFIG_KEYS)}"
                               + (" (API keys belong in $CODEASSIST_API_KEY)" if key == "api_key" else ""))
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if key == "timeout" else isinstance(value, str)
        if not ok:
            raise BackendError(f"{path}: [backend] {key} = {value!r} has the wrong type")
        out[CONFIG_KEYS[key]] = value
    return out


def open_backends(options: BackendOptions, *, loaded: LoadedModel | None = None) -> tuple[Backend, Backend | None]:
    """The primary backend and the fallback (or None); a local model loads on first use unless ``loaded``."""
    if options.backend == "local":
        return LocalBackend(loaded, model_name=options.model), None
    from codeassist.remote import RemoteBackend, RemoteOptions

    remote = RemoteBackend(RemoteOptions(endpoint=options.endpoint or "", model=options.model, api_key=options.api_key,
                                         tokenizer=options.tokenizer, read_timeout_s=options.timeout_s))
    fallback = LocalBackend(loaded, model_name=options.local_model) if options.fallback == "local" else None
    return remote, fallback
