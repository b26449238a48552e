"""The remote backend: completions from an OpenAI-compatible inference engine (vLLM, llama.cpp's server, TGI).

The packer's prompt goes verbatim to ``POST /v1/completions`` (the raw-text endpoint, so the repo-level FIM
layout and its special tokens reach the model unchanged), greedy, streamed as server-sent events. The
stop rule runs on the streamed text and the prompt format's stop tokens become the request's ``stop``
strings. Closing the connection is the cancellation the engines understand (they stop generating for a
client that went away): a cancel flag is checked at every streamed chunk and, while waiting for the engine,
by a watcher that closes the socket. Connection errors are retried with exponential backoff; a slow
engine fails after ``read_timeout_s`` of silence. Only the standard library is used (http.client).

What engines report differs: vLLM gives its window in ``GET /v1/models`` (``max_model_len``) and cached
prompt tokens in ``usage.prompt_tokens_details.cached_tokens``; llama.cpp's own server gives
``GET /props`` (``default_generation_settings.n_ctx``) and ``timings.cache_n``; llama-cpp-python's server
(0.3.x) reports neither and names its window only in the error for a prompt that exceeds it, which is
then remembered so the next such prompt is refused before it is sent.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from codeassist import rope
from codeassist.backends import BackendError, BackendUnavailable, ContextWindowError
from codeassist.engine import Cancelled, CancelFn, Generation, StopFn, TokenFn
from codeassist.formats import PLAIN, QWEN, STARCODER, PromptFormat, detect_format
from codeassist.tokenizers import EstimatedTokenizer, ModelTokenizer, TokenCounter, token_counter

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})  # the engine is starting (llama.cpp: 503 while loading) or overloaded
PROBE_RETRY_S = 30.0  # after a failed GET /v1/models, how long prompts are estimated before asking again
CANCEL_POLL_S = 0.05  # how often the watcher checks the cancel flag while a read blocks (seconds)
MAX_ERROR_BYTES = 65536  # an error body is read up to this many bytes
MAX_LINE_BYTES = 1 << 20  # one server-sent-event line; a completion chunk is a few hundred bytes
MAX_WHOLE_BYTES = 16 << 20  # an unstreamed answer
# Context-window numbers in engines' over-window errors: llama-cpp-python / vLLM (OpenAI wording), llama.cpp.
WINDOW_ERROR_PATTERNS = (
    re.compile(r"maximum context length is (\d+) tokens"),
    re.compile(r"exceeds? context window of (\d+)"),
    re.compile(r'"n_ctx"\s*:\s*(\d+)'),
)
WINDOW_ERROR_WORDS = ("context length", "context window", "context size", "exceed_context_size")


@dataclass(frozen=True)
class RemoteOptions:
    endpoint: str  # base URL: http(s)://host:port[/prefix]; a trailing /v1 is accepted
    model: str | None = None  # the served model; None: the first that GET /v1/models lists
    api_key: str | None = None  # sent as "Authorization: Bearer <key>"
    tokenizer: str | None = None  # budgeting tokenizer source; None: the model name, else an estimate
    connect_timeout_s: float = 3.0  # per connection attempt (seconds)
    read_timeout_s: float = 30.0  # longest silence from the engine: before the first chunk and between chunks
    retries: int = 2  # further attempts after a connection error or a 502/503/504
    backoff_s: float = 0.25  # wait before the first retry (seconds), doubled for each next one
    context_window: int | None = None  # tokens; None: as the engine reports it


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int | None
    base_path: str  # prefix before /v1, "" for most engines

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}{self.base_path}"


def parse_endpoint(url: str) -> Endpoint:
    """``http://host:port[/prefix][/v1]`` as its parts; raises BackendError for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"endpoint {url!r} is not an http(s)://host:port URL")
    try:
        port = parts.port
    except ValueError:
        raise BackendError(f"endpoint {url!r} has a bad port") from None
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return Endpoint(parts.scheme, parts.hostname, port, path)


def iter_sse_data(lines: Iterable[bytes]) -> Iterator[str]:
    """The ``data`` of each server-sent event, in order (multi-line data joined by newlines).

    Comments (``:`` lines) and other fields (``event``, ``id``, ``retry``) are skipped; an event ends at a
    blank line; a final event without its blank line is still yielded.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")  # a broken byte is the engine's bug, not a crash
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


@dataclass
class Chunk:
    """One streamed completion event (or a whole non-streamed answer)."""

    text: str
    finish_reason: str | None = None  # "stop" | "length" | None while streaming
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # prompt tokens served from the engine's prefix cache


def parse_chunk(data: str) -> Chunk:
    """A completion event's JSON; raises BackendError for an error event, BackendUnavailable for garbage."""
    try:
        obj = json.loads(data)
    except ValueError:
        raise BackendUnavailable(f"the engine sent something that is not JSON: {data[:80]!r}") from None
    if isinstance(obj, dict) and "error" in obj:
        raise BackendError(f"the engine reported an error: {_error_message(obj)}")
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if not isinstance(choices, list):
        raise BackendUnavailable(f"the engine sent JSON that is not a completion: {data[:80]!r}")
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    text = first.get("text") or ""
    if not isinstance(text, str):
        raise BackendUnavailable(f"the engine sent a completion whose text is not a string: {data[:80]!r}")
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    timings = obj.get("timings") if isinstance(obj.get("timings"), dict) else {}
    cached = details.get("cached_tokens", timings.get("cache_n"))
    prompt = usage.get("prompt_tokens")
    if prompt is None and _int(timings.get("prompt_n")) is not None:
        prompt = timings["prompt_n"] + (_int(timings.get("cache_n")) or 0)  # llama.cpp: prompt_n counts evaluated tokens
    return Chunk(text, first.get("finish_reason"), _int(prompt), _int(usage.get("completion_tokens", timings.get("predicted_n"))),
                 _int(cached))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_message(obj: Any) -> str:
    """The human message in an engine's error body (OpenAI, FastAPI or llama.cpp shape)."""
    if isinstance(obj, dict):
        for key in ("error", "detail", "message"):
            value = obj.get(key)
            if isinstance(value, dict):
                return _error_message(value) if "message" not in value else str(value["message"])
            if isinstance(value, str):
                return value
    return json.dumps(obj)[:300]


def backoff_delays(retries: int, base_s: float) -> list[float]:
    """Seconds to wait before each retry: ``base_s``, doubled each time (0.25, 0.5, 1, …)."""
    return [base_s * 2**i for i in range(retries)]


def window_from_error(message: str) -> int | None:
    """The context window (tokens) named in an engine's over-window error, if it names one."""
    for pattern in WINDOW_ERROR_PATTERNS:
        if m := pattern.search(message):
            return int(m.group(1))
    return None


def window_from_props(obj: Any) -> int | None:
    """llama.cpp's ``GET /props``: ``default_generation_settings.n_ctx`` (tokens)."""
    settings = obj.get("default_generation_settings") if isinstance(obj, dict) else None
    return _int(settings.get("n_ctx")) if isinstance(settings, dict) else None


def window_from_models(obj: Any, model: str | None) -> int | None:
    """vLLM's ``GET /v1/models``: ``max_model_len`` of the served model (tokens)."""
    for entry in _model_entries(obj):
        if model is None or entry.get("id") == model:
            return _int(entry.get("max_model_len"))
    return None


def _model_entries(obj: Any) -> list[dict]:
    data = obj.get("data") if isinstance(obj, dict) else None
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def guess_format(model: str) -> PromptFormat:
    """The prompt format for a model known only by name: Qwen coders and StarCoders speak repo-level FIM."""
    lowered = model.lower()
    if "qwen" in lowered and "coder" in lowered:
        return QWEN
    if "starcoder" in lowered:
        return STARCODER
    return PLAIN


class _CancelWatcher:
    """Closes a connection's socket when ``cancel()`` turns true, so a blocked read returns at once."""

    def __init__(self, conn: http.client.HTTPConnection, cancel: CancelFn):
        self.conn, self.cancel = conn, cancel
        self.done = threading.Event()
        self.fired = False
        self.thread = threading.Thread(target=self._run, name="codeassist-cancel-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(CANCEL_POLL_S):
            if self.cancel():
                self.fired = True
                sock = self.conn.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def stop(self) -> None:
        self.done.set()


class RemoteBackend:
    """An OpenAI-compatible engine at ``options.endpoint``; thread-safe (one connection per request)."""

    kind = "remote"

    def __init__(self, options: RemoteOptions, *, sleep: Callable[[float], None] = time.sleep):
        self.options = options
        self.endpoint = parse_endpoint(options.endpoint)
        self.sleep = sleep
        self._model = options.model
        self._window = options.context_window
        self._window_source = "configured" if options.context_window else ""
        self._probed = False
        self._lock = threading.Lock()
        self._tokens: TokenCounter | None = None  # once the tokenizer is settled (see tokens)
        self._estimate = EstimatedTokenizer()
        self._probe_retry_at = 0.0  # time.monotonic() before which a failed model probe is not retried

    # -- what the packer needs -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._model or self.options.model or "remote"

    @property
    def tokens(self) -> TokenCounter:
        """Counts from --tokenizer, else the served model's name (asked of the engine when not configured).

        While the engine cannot be asked (down at start-up), counts are estimated and the question is asked
        again every ``PROBE_RETRY_S`` seconds, so the engine's own tokenizer and prompt format take over once
        it is up instead of the estimate and the plain format staying for the whole session.
        """
        if self._tokens is not None:
            return self._tokens
        if self._model is None and not self.options.tokenizer:
            if time.monotonic() < self._probe_retry_at:
                return self._estimate
            try:
                self.probe()
            except BackendError as e:  # counted by estimate; the next request reports the engine's state
                log.warning("cannot ask %s for its model (asking again in %.0f s): %s", self.endpoint, PROBE_RETRY_S, e)
                self._probe_retry_at = time.monotonic() + PROBE_RETRY_S
                return self._estimate
        self._tokens = token_counter(self.options.tokenizer, self._model)
        return self._tokens

    @property
    def format(self) -> PromptFormat:
        tokens = self.tokens
        if isinstance(tokens, ModelTokenizer):
            return detect_format(tokens.tokenizer)
        return guess_format(self.options.tokenizer or self.name)

    def count_tokens(self, text: str) -> int:
        return self.tokens.count(text)

    # -- HTTP ----------------------------------------------------------------------------------------
    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream, application/json", "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        return headers

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.endpoint.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.endpoint.host, self.endpoint.port, timeout=self.options.connect_timeout_s)
        conn.connect()
        conn.sock.settimeout(self.options.read_timeout_s)
        return conn

    def _open(self, method: str, path: str, payload: dict | None = None,
              cancel: CancelFn | None = None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, _CancelWatcher | None]:
        """Sends one request, retrying connection errors and 502/503/504 with backoff; the caller closes."""
        body = json.dumps(payload).encode() if payload is not None else None
        url = f"{self.endpoint.base_path}{path}"
        delays = backoff_delays(self.options.retries, self.options.backoff_s)
        for attempt in range(len(delays) + 1):
            if cancel and cancel():
                raise Cancelled()
            conn, watcher = None, None
            try:
                conn = self._connection()
                watcher = _CancelWatcher(conn, cancel) if cancel else None
                conn.request(method, url, body=body, headers=self._headers(body))
                resp = conn.getresponse()
            except (TimeoutError, socket.timeout) as e:
                self._close(conn, watcher)
                if watcher and watcher.fired:
                    raise Cancelled() from None
                if conn is not None:  # connected, then no answer in time: a slow engine, not retried
                    raise BackendUnavailable(f"the engine at {self.endpoint} did not answer within "
                                             f"{self.options.read_timeout_s:g} s") from e
                problem = f"no connection within {self.options.connect_timeout_s:g} s"
            except http.client.HTTPException as e:
                self._close(conn, watcher)
                if isinstance(e, http.client.RemoteDisconnected):  # closed before answering: restarting?
                    problem = "closed the connection without an answer"
                else:
                    raise BackendUnavailable(f"the engine at {self.endpoint} did not answer in HTTP ({e!r}): "
                                             "is this the right host and port?") from None
            except OSError as e:
                self._close(conn, watcher)
                if watcher and watcher.fired:
                    raise Cancelled() from None
                problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if resp.status in RETRY_STATUSES and attempt < len(delays):
                    problem = f"HTTP {resp.status}"
                    self._close(conn, watcher)
                else:
                    return conn, resp, watcher
            if attempt == len(delays):
                raise BackendUnavailable(f"the engine at {self.endpoint} is unreachable ({problem}) after "
                                         f"{attempt + 1} attempt(s); is it running?")
            log.info("engine at %s: %s; retrying in %.2f s", self.endpoint, problem, delays[attempt])
            self.sleep(delays[attempt])
        raise AssertionError("unreachable")

    @staticmethod
    def _close(conn: http.client.HTTPConnection | None, watcher: _CancelWatcher | None) -> None:
        if watcher:
            watcher.stop()
        if conn is not None:
            conn.close()

    def _get_json(self, path: str) -> Any | None:
        """GET ``path`` as JSON; None when the engine has no such endpoint or answers non-JSON."""
        conn, resp, _ = self._open("GET", path)
        try:
            if resp.status in (401, 403):
                raise BackendError(self._refused(resp.status))
            if resp.status != 200:
                return None
            return json.loads(resp.read(MAX_ERROR_BYTES * 16))
        except (ValueError, http.client.HTTPException, OSError):
            return None
        finally:
            conn.close()

    def _refused(self, status: int) -> str:
        return (f"the engine at {self.endpoint} refused the request (HTTP {status}): check the API key "
                "($CODEASSIST_API_KEY, or the editor setting apiKey)")

    # -- model and window ----------------------------------------------------------------------------
    def probe(self) -> None:
        """Learns the served model (when not configured) and the context window, once."""
        with self._lock:
            if self._probed:
                return
            models = self._get_json("/v1/models")
            if self._model is None:
                entries = _model_entries(models)
                if not entries or not isinstance(entries[0].get("id"), str):
                    raise BackendError(f"the engine at {self.endpoint} lists no models at /v1/models: name one with --model")
                self._model = entries[0]["id"]
            if self._window is None:
                if (window := window_from_models(models, self._model)) is not None:
                    self._window, self._window_source = window, "GET /v1/models max_model_len"
                elif (window := window_from_props(self._get_json("/props"))) is not None:
                    self._window, self._window_source = window, "GET /props n_ctx"
            self._probed = True

    @property
    def context_window(self) -> int | None:
        """The engine's window in tokens, once known (configured, reported, or learned from an error)."""
        return self._window

    def _check_window(self, prompt_tokens: int, max_new_tokens: int) -> None:
        if self._window is not None and prompt_tokens + max_new_tokens > self._window:
            how = "counted" if self.tokens.exact else "estimated (no local tokenizer; see codeassist.tokenizers)"
            raise ContextWindowError(
                f"the prompt ({prompt_tokens} tokens, {how}) plus {max_new_tokens} new tokens exceeds the engine's "
                f"context window of {self._window} tokens ({self._window_source}); lower the context budget or "
                "serve the model with a larger window (README: 'Remote engines')")

    # -- generation ----------------------------------------------------------------------------------
    def request_body(self, prompt: str, max_new_tokens: int) -> dict:
        """The ``/v1/completions`` request: greedy, streamed, stop strings from the prompt format."""
        return {
            "model": self.name, "prompt": prompt, "max_tokens": max_new_tokens, "temperature": 0.0, "top_p": 1.0,
            "stream": True, "stream_options": {"include_usage": True}, "stop": list(self.format.stop_tokens),
            "cache_prompt": True,  # llama.cpp: reuse the KV cache of the common prefix (its default; vLLM ignores it)
            "repeat_penalty": 1.0,  # llama.cpp/llama-cpp-python default to 1.1, which is not greedy decoding
        }

    def generate(self, prompt: str, *, max_new_tokens: int, stop_rule: StopFn | None = None,
                 cancel: CancelFn | None = None, on_text: TokenFn | None = None,
                 rope_mode: str = rope.DEFAULT_MODE) -> Generation:
        """Streams a completion; raises Cancelled, ContextWindowError, BackendUnavailable, BackendError.

        ``rope_mode`` is ignored: RoPE scaling is configured on the engine (README: 'Remote engines').
        """
        cancel = cancel or (lambda: False)
        t0 = time.perf_counter()
        self.probe()
        prompt_tokens = self.count_tokens(prompt)
        self._check_window(prompt_tokens, max_new_tokens)
        body = self.request_body(prompt, max_new_tokens)
        try:
            return self._stream(body, t0, prompt_tokens, stop_rule, cancel, on_text)
        except _EmptyStream:
            raise self._explain_empty_stream(body) from None

    def _stream(self, body, t0, prompt_tokens, stop_rule, cancel, on_text) -> Generation:
        conn, resp, watcher = self._open("POST", "/v1/completions", body, cancel)
        try:
            if resp.status != 200:
                self._raise_for_status(resp)
            kind = resp.getheader("Content-Type", "")
            if "text/event-stream" in kind:
                return self._read_stream(resp, t0, prompt_tokens, stop_rule, cancel, on_text, watcher)
            if "json" in kind:
                return self._read_whole(resp, t0, prompt_tokens, stop_rule, on_text)
            raise BackendUnavailable(f"the engine at {self.endpoint} answered {kind or 'an untyped body'}, "
                                     "not a completion stream: is this an OpenAI-compatible server?")
        except (TimeoutError, socket.timeout):
            if watcher and watcher.fired:
                raise Cancelled() from None
            raise BackendUnavailable(f"the engine at {self.endpoint} went silent for {self.options.read_timeout_s:g} s "
                                     "mid-completion") from None
        except (http.client.HTTPException, ConnectionError, OSError) as e:
            if watcher and watcher.fired:
                raise Cancelled() from None
            raise BackendUnavailable(f"the engine at {self.endpoint} closed the connection mid-completion "
                                     f"({type(e).__name__}); it may have crashed or restarted") from None
        finally:
            self._close(conn, watcher)

    def _explain_empty_stream(self, body: dict) -> BackendError:
        """Why a stream ended before its first chunk: the same request unstreamed, for one token.

        Works around llama-cpp-python 0.3.x, which answers a request that fails before its first token (a
        prompt over the window) with an empty 200 stream and logs the error only on the server's side.
        """
        once = {k: v for k, v in body.items() if k != "stream_options"} | {"stream": False, "max_tokens": 1}
        conn, resp, _ = self._open("POST", "/v1/completions", once)
        try:
            if resp.status != 200:
                self._raise_for_status(resp)
        finally:
            conn.close()
        return BackendUnavailable(f"the engine at {self.endpoint} ended the stream before the first token; "
                                  "it may have crashed (see its log)")

    def _raise_for_status(self, resp: http.client.HTTPResponse) -> None:
        raw = resp.read(MAX_ERROR_BYTES)
        try:
            message = _error_message(json.loads(raw))
        except ValueError:
            message = raw.decode("utf-8", "replace").strip()[:300] or resp.reason
        if resp.status in (401, 403):
            raise BackendError(self._refused(resp.status))
        if any(w in message.lower() for w in WINDOW_ERROR_WORDS):
            if (window := window_from_error(message)) is not None and self._window is None:
                self._window, self._window_source = window, "named by the engine in an earlier error"
            raise ContextWindowError(f"the engine at {self.endpoint} refused a prompt longer than its context "
                                     f"window: {message}; lower the context budget or serve the model with a "
                                     "larger window (README: 'Remote engines')")
        if resp.status >= 500:
            raise BackendUnavailable(f"the engine at {self.endpoint} failed (HTTP {resp.status}): {message}")
        raise BackendError(f"the engine at {self.endpoint} rejected the request (HTTP {resp.status}): {message}")

    def _read_stream(self, resp, t0, prompt_tokens, stop_rule, cancel, on_text, watcher) -> Generation:
        text, chunks, first_at = "", 0, None
        reason, final = "", Chunk("")
        for data in iter_sse_data(_lines(resp)):
            if cancel():
                raise Cancelled()
            if data.strip() == "[DONE]":
                break
            chunk = parse_chunk(data)
            final = _merge_usage(final, chunk)
            if chunk.text:
                first_at = first_at or time.perf_counter()
                chunks += 1
                text += chunk.text
                if on_text:
                    on_text(text)
                cut = stop_rule(text) if stop_rule else None
                if cut is not None:
                    text, reason = text[:cut], "stop_rule"
                    break  # closing the connection stops the engine
            if chunk.finish_reason:
                reason = reason or ("length" if chunk.finish_reason == "length" else "stop_token")
        else:
            if watcher and watcher.fired:
                raise Cancelled()
            if not reason and not chunks:
                raise _EmptyStream()
            if not reason:
                raise BackendUnavailable(f"the engine at {self.endpoint} ended the stream without finishing "
                                         f"the completion (after {chunks} chunks); it may have crashed")
        return self._generation(text, chunks, final, reason or "engine_interrupted", t0, first_at, prompt_tokens)

    def _read_whole(self, resp, t0, prompt_tokens, stop_rule, on_text) -> Generation:
        """An engine that ignored ``stream``: one JSON answer, the stop rule applied to its text."""
        raw = resp.read(MAX_WHOLE_BYTES)
        first_at = time.perf_counter()
        chunk = parse_chunk(raw.decode("utf-8", "replace"))
        text, reason = chunk.text, "length" if chunk.finish_reason == "length" else "stop_token"
        if on_text and text:
            on_text(text)
        if stop_rule and (cut := stop_rule(text)) is not None:
            text, reason = text[:cut], "stop_rule"
        return self._generation(text, 1, chunk, reason, t0, first_at, prompt_tokens)

    def _generation(self, text, chunks, usage: Chunk, reason, t0, first_at, counted_prompt) -> Generation:
        t_end = time.perf_counter()
        first_at = first_at or t_end
        return Generation(
            text=text,
            tokens=usage.completion_tokens if usage.completion_tokens is not None else chunks,
            prompt_tokens=usage.prompt_tokens if usage.prompt_tokens is not None else counted_prompt,
            cached_tokens=usage.cached_tokens,
            prefill_ms=(first_at - t0) * 1000, decode_ms=(t_end - first_at) * 1000,
            stop_reason=reason, rope_scaling="engine",
        )


class _EmptyStream(Exception):
    """A stream that ended before its first chunk, without saying why."""


def _merge_usage(seen: Chunk, chunk: Chunk) -> Chunk:
    """Usage numbers arrive in the last chunk(s); keep the latest reported value of each."""
    return Chunk("", None,
                 chunk.prompt_tokens if chunk.prompt_tokens is not None else seen.prompt_tokens,
                 chunk.completion_tokens if chunk.completion_tokens is not None else seen.completion_tokens,
                 chunk.cached_tokens if chunk.cached_tokens is not None else seen.cached_tokens)


def _lines(resp: http.client.HTTPResponse) -> Iterator[bytes]:
    """The response body line by line, as it arrives."""
    while line := resp.readline(MAX_LINE_BYTES):
        if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise BackendUnavailable(f"the engine sent a line of more than {MAX_LINE_BYTES} bytes: not a completion stream")
        yield line
