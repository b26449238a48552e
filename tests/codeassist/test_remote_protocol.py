"""The remote backend's protocol logic against a scripted in-process HTTP server: SSE parsing, retries and
backoff, timeouts, errors, the window check and cancellation. The real engine is in test_remote_engine.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codeassist.backends import BackendError, BackendOptions, BackendUnavailable, ContextWindowError
from codeassist.engine import Cancelled
from codeassist.formats import PLAIN, QWEN
from codeassist.remote import (
    RemoteBackend, RemoteOptions, backoff_delays, iter_sse_data, parse_chunk, parse_endpoint, window_from_error,
    window_from_models, window_from_props,
)
from codeassist.tokenizers import SAFETY_MARGIN, TYPICAL_BYTES_PER_TOKEN, EstimatedTokenizer


# -- pure logic ------------------------------------------------------------------------------------------
def test_endpoint_accepts_a_trailing_v1_and_rejects_non_urls():
    e = parse_endpoint("http://gpu-box:8000/v1/")
    assert (e.scheme, e.host, e.port, e.base_path) == ("http", "gpu-box", 8000, "")
    assert parse_endpoint("https://proxy.example/llm/v1").base_path == "/llm"
    for bad in ("gpu-box:8000", "ftp://x", "http://", "http://h:port"):
        with pytest.raises(BackendError):
            parse_endpoint(bad)


def test_sse_events_skip_comments_join_data_lines_and_keep_a_last_unterminated_event():
    raw = b": keep-alive\r\n\r\ndata: {\"a\": 1}\r\n\r\nevent: x\ndata: line1\ndata: line2\nid: 3\n\ndata:[DONE]"
    assert list(iter_sse_data(raw.splitlines(keepends=True))) == ['{"a": 1}', "line1\nline2", "[DONE]"]


def test_chunks_read_usage_as_vllm_and_llama_cpp_report_it():
    vllm = parse_chunk(json.dumps({"choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 12,
                                                            "prompt_tokens_details": {"cached_tokens": 768}}}))
    assert (vllm.text, vllm.prompt_tokens, vllm.completion_tokens, vllm.cached_tokens) == ("", 900, 12, 768)
    llama = parse_chunk(json.dumps({"choices": [{"text": "x", "finish_reason": "stop"}],
                                    "timings": {"cache_n": 700, "prompt_n": 200, "predicted_n": 9}}))
    assert (llama.text, llama.finish_reason, llama.prompt_tokens, llama.completion_tokens, llama.cached_tokens) == \
        ("x", "stop", 900, 9, 700)
    plain = parse_chunk(json.dumps({"choices": [{"text": "y", "finish_reason": None}]}))
    assert plain.cached_tokens is None and plain.prompt_tokens is None


def test_error_events_and_garbage_are_told_apart():
    with pytest.raises(BackendError, match="out of memory") as info:
        parse_chunk(json.dumps({"error": {"message": "out of memory", "code": 500}}))
    assert not isinstance(info.value, BackendUnavailable)
    for garbage in ("<html>", json.dumps({"hello": 1}), json.dumps({"choices": [{"text": 5}]})):
        with pytest.raises(BackendUnavailable):
            parse_chunk(garbage)


def test_backoff_doubles():
    assert backoff_delays(3, 0.25) == [0.25, 0.5, 1.0]
    assert backoff_delays(0, 1.0) == []


def test_windows_as_engines_report_them():
    assert window_from_props({"default_generation_settings": {"n_ctx": 4096}}) == 4096
    assert window_from_props({"n_ctx": "x"}) is None
    models = {"data": [{"id": "a", "max_model_len": 32768}, {"id": "b", "max_model_len": 131072}]}
    assert window_from_models(models, "b") == 131072 and window_from_models(models, None) == 32768
    assert window_from_models({"data": [{"id": "a"}]}, "a") is None
    # llama-cpp-python and vLLM word it the OpenAI way; llama.cpp's own server puts n_ctx in the body
    assert window_from_error("This model's maximum context length is 512 tokens, however you requested 900") == 512
    assert window_from_error("Requested tokens (900) exceed context window of 512") == 512
    assert window_from_error('{"type":"exceed_context_size_error","n_prompt_tokens":900,"n_ctx":512}') == 512


def test_the_estimate_overcounts_code():
    text = "def total(items):\n    return sum(i.price * i.qty for i in items)\n" * 20
    est = EstimatedTokenizer().count(text)
    assert est == -(-len(text.encode()) * SAFETY_MARGIN // TYPICAL_BYTES_PER_TOKEN)
    assert est > len(text) / 4  # well above what a code tokenizer produces (~3.9 bytes per token)


def test_backend_options_come_from_flags_then_environment(monkeypatch):
    monkeypatch.setenv("CODEASSIST_BACKEND", "remote")
    monkeypatch.setenv("CODEASSIST_ENDPOINT", "http://env:1")
    monkeypatch.setenv("CODEASSIST_REMOTE_MODEL", "served")
    monkeypatch.setenv("CODEASSIST_TIMEOUT", "7.5")
    opts = BackendOptions.from_env(endpoint="http://flag:2", model=None)
    assert (opts.backend, opts.endpoint, opts.model, opts.timeout_s) == ("remote", "http://flag:2", "served", 7.5)
    monkeypatch.delenv("CODEASSIST_ENDPOINT")
    with pytest.raises(BackendError, match="needs an endpoint"):
        BackendOptions.from_env()
    with pytest.raises(BackendError, match="unknown fallback"):
        BackendOptions.from_env(endpoint="http://x:1", fallback="cloud")
    monkeypatch.setenv("CODEASSIST_TIMEOUT", "soon")
    with pytest.raises(BackendError, match="not a number"):
        BackendOptions.from_env(endpoint="http://x:1")


# -- a scripted engine -----------------------------------------------------------------------------------
class Fake:
    """An HTTP server whose answers each test scripts: ``routes[(method, path)] = fn(handler, body)``."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.disconnected = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, self.path, dict(self.headers), body))
                route = fake.routes.get((method, self.path))
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    fake.disconnected.set()

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self):
        return [r for r in self.requests if r[0] == "POST"]


def send_json(handler, status, obj):
    data = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def stream(pieces, *, delay=0.0, finish="stop", done=True, usage=None):
    """A route streaming ``pieces`` as completion chunks, then a finish chunk and [DONE]."""

    def route(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for piece in pieces:
            handler.wfile.write(f"data: {json.dumps({'choices': [{'text': piece, 'finish_reason': None}]})}\n\n".encode())
            handler.wfile.flush()
            time.sleep(delay)
        if finish:
            last = {"choices": [{"text": "", "finish_reason": finish}]} | ({"usage": usage} if usage else {})
            handler.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
        if done:
            handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()

    return route


@pytest.fixture
def fake():
    f = Fake()
    f.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": [{"id": "qwen2.5-coder-7b"}]})
    yield f
    f.server.shutdown()
    f.server.server_close()


def backend(fake, **kw):
    kw.setdefault("backoff_s", 0.01)
    return RemoteBackend(RemoteOptions(endpoint=fake.url, **kw))


def test_streams_a_completion_with_greedy_raw_prompt_settings(fake):
    fake.routes[("POST", "/v1/completions")] = stream(["ret", "urn ", "total"], usage={"prompt_tokens": 40, "completion_tokens": 3})
    seen = []
    gen = backend(fake, api_key="sekret").generate("<|fim_prefix|>x<|fim_suffix|><|fim_middle|>", max_new_tokens=16,
                                                     on_text=seen.append)
    assert gen.text == "return total" and seen == ["ret", "return ", "return total"]
    assert (gen.tokens, gen.prompt_tokens, gen.cached_tokens, gen.stop_reason) == (3, 40, None, "stop_token")
    _, _, headers, body = fake.posts()[0]
    assert headers["Authorization"] == "Bearer sekret"
    assert body["model"] == "qwen2.5-coder-7b"  # learned from /v1/models
    assert body["prompt"].startswith("<|fim_prefix|>") and body["stream"] and body["temperature"] == 0
    assert body["stop"] == list(QWEN.stop_tokens)  # the name says Qwen coder: its repo-level format


def test_the_stop_rule_cuts_the_stream_and_closes_it(fake):
    fake.routes[("POST", "/v1/completions")] = stream(["a\n", "b\n", "c\n"] + ["x"] * 200, delay=0.01)
    gen = backend(fake, model="m").generate("p", max_new_tokens=500, stop_rule=lambda t: 3 if t.count("\n") >= 2 else None)
    assert (gen.text, gen.stop_reason, gen.tokens) == ("a\nb", "stop_rule", 2)
    assert fake.disconnected.wait(5), "the engine should see the client go away"


def test_connection_errors_are_retried_with_backoff_then_reported():
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept = []
    remote = RemoteBackend(RemoteOptions(endpoint=f"http://127.0.0.1:{port}", model="m", retries=3, backoff_s=0.1),
                           sleep=slept.append)
    with pytest.raises(BackendUnavailable, match="unreachable .*ConnectionRefusedError.* after 4 attempt"):
        remote.generate("p", max_new_tokens=4)
    assert slept == [0.1, 0.2, 0.4]


def test_a_loading_engine_503_is_retried(fake):
    answers = iter([503, 503, 200])

    def route(handler, body):
        status = next(answers)
        if status == 503:
            send_json(handler, 503, {"error": {"message": "Loading model", "code": 503}})
        else:
            stream(["ok"])(handler, body)

    fake.routes[("POST", "/v1/completions")] = route
    slept = []
    remote = RemoteBackend(RemoteOptions(endpoint=fake.url, model="m", backoff_s=0.05), sleep=slept.append)
    assert remote.generate("p", max_new_tokens=4).text == "ok"
    assert slept == [0.05, 0.1] and len(fake.posts()) == 3


def test_a_silent_engine_times_out_without_retrying(fake):
    fake.routes[("POST", "/v1/completions")] = lambda h, b: time.sleep(3)
    t0 = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="did not answer within 0.5 s"):
        backend(fake, model="m", read_timeout_s=0.5).generate("p", max_new_tokens=4)
    assert time.perf_counter() - t0 < 2.5 and len(fake.posts()) == 1


def test_garbage_and_a_stream_cut_short_are_unavailable(fake):
    def html(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        handler.wfile.write(b"<html>hello</html>")

    fake.routes[("POST", "/v1/completions")] = html
    with pytest.raises(BackendUnavailable, match="text/html, not a completion stream"):
        backend(fake, model="m").generate("p", max_new_tokens=4)
    fake.routes[("POST", "/v1/completions")] = stream(["par", "tial"], finish=None, done=False)
    with pytest.raises(BackendUnavailable, match="ended the stream without finishing"):
        backend(fake, model="m").generate("p", max_new_tokens=4)


def test_a_refused_key_is_a_configuration_error_not_an_outage(fake):
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_json(h, 401, {"error": {"message": "Invalid API Key"}})
    with pytest.raises(BackendError, match="HTTP 401.*API key") as info:
        backend(fake, model="m").generate("p", max_new_tokens=4)
    assert not isinstance(info.value, BackendUnavailable)


def test_a_prompt_over_the_reported_window_is_refused_before_sending(fake):
    fake.routes[("GET", "/props")] = lambda h, b: send_json(h, 200, {"default_generation_settings": {"n_ctx": 256}})
    fake.routes[("POST", "/v1/completions")] = stream(["never"])
    remote = backend(fake, model="m")
    with pytest.raises(ContextWindowError, match=r"exceeds the engine's context window of 256 tokens \(GET /props n_ctx\)"):
        remote.generate("x = 1\n" * 200, max_new_tokens=16)
    assert fake.posts() == []
    assert remote.generate("x = 1\n", max_new_tokens=16).text == "never"


def test_vllm_max_model_len_sets_the_window(fake):
    fake.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": [{"id": "m", "max_model_len": 100}]})
    remote = backend(fake, model="m")
    remote.probe()
    assert remote.context_window == 100


def test_an_over_window_error_from_the_engine_is_clear_and_remembered(fake):
    message = "This model's maximum context length is 128 tokens, however you requested 400 tokens"
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_json(h, 400, {"error": {"message": message, "code": "context_length_exceeded"}})
    remote = backend(fake, model="m")
    with pytest.raises(ContextWindowError, match="refused a prompt longer than its context window"):
        remote.generate("y" * 1000, max_new_tokens=8)
    assert remote.context_window == 128
    with pytest.raises(ContextWindowError, match="named by the engine in an earlier error"):
        remote.generate("y" * 1000, max_new_tokens=8)
    assert len(fake.posts()) == 1  # the second was refused here


def test_cancel_between_chunks_closes_the_stream(fake):
    fake.routes[("POST", "/v1/completions")] = stream(["t"] * 400, delay=0.01)
    seen = []
    with pytest.raises(Cancelled):
        backend(fake, model="m").generate("p", max_new_tokens=500, on_text=seen.append, cancel=lambda: len(seen) >= 3)
    assert len(seen) == 3
    assert fake.disconnected.wait(5)


def test_cancel_while_the_engine_is_silent_returns_at_once(fake):
    fake.routes[("POST", "/v1/completions")] = lambda h, b: time.sleep(5)  # a long prefill
    flag = threading.Event()
    threading.Timer(0.3, flag.set).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        backend(fake, model="m", read_timeout_s=10).generate("p", max_new_tokens=4, cancel=flag.is_set)
    assert time.perf_counter() - t0 < 1.5


def test_an_empty_stream_is_explained_by_the_same_request_unstreamed(fake):
    message = "This model's maximum context length is 64 tokens, however you requested 90 tokens"

    def route(handler, body):  # llama-cpp-python 0.3.x: the streamed error is an empty 200 stream
        if body["stream"]:
            stream([], finish=None, done=False)(handler, body)
        else:
            send_json(handler, 400, {"error": {"message": message}})

    fake.routes[("POST", "/v1/completions")] = route
    with pytest.raises(ContextWindowError, match="maximum context length is 64"):
        backend(fake, model="m").generate("z" * 300, max_new_tokens=8)
    assert [b["stream"] for *_, b in fake.posts()] == [True, False]
    assert fake.posts()[1][3]["max_tokens"] == 1
    fake.routes[("POST", "/v1/completions")] = stream([], finish=None, done=False)
    with pytest.raises(BackendUnavailable, match="ended the stream before the first token"):
        backend(fake, model="m").generate("p", max_new_tokens=8)


def test_an_unnamed_model_is_asked_of_the_engine_before_choosing_the_prompt_format(fake):
    remote = backend(fake)
    assert remote.format is QWEN and remote.name == "qwen2.5-coder-7b"  # from GET /v1/models
    assert not remote.tokens.exact  # no such tokenizer here: the estimate


def test_an_engine_down_at_start_gets_its_prompt_format_once_it_is_up(fake, monkeypatch):
    import codeassist.remote as remote_module

    models = fake.routes.pop(("GET", "/v1/models"))  # down: 404 for the model list
    remote = backend(fake, retries=0)
    assert remote.format is PLAIN and remote.name == "remote"  # estimated and plain meanwhile
    fake.routes[("GET", "/v1/models")] = models  # the engine comes up
    assert remote.format is PLAIN  # not asked again before PROBE_RETRY_S
    asked = len(fake.requests)
    monkeypatch.setattr(remote_module, "PROBE_RETRY_S", 0.0)
    remote._probe_retry_at = 0.0
    assert remote.format is QWEN and remote.name == "qwen2.5-coder-7b"
    assert len(fake.requests) > asked
    settled = len(fake.requests)
    assert remote.format is QWEN and len(fake.requests) == settled  # settled: not asked again


def test_broken_bytes_and_endless_lines_are_an_outage_not_a_crash(fake):
    def raw(body_bytes):
        def route(handler, body):
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.end_headers()
            handler.wfile.write(body_bytes)
            handler.wfile.flush()
        return route

    bad_utf8 = b'data: {"choices": [{"text": "ok\xff", "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    fake.routes[("POST", "/v1/completions")] = raw(bad_utf8)
    assert backend(fake, model="m").generate("p", max_new_tokens=4).text == "ok\ufffd"
    fake.routes[("POST", "/v1/completions")] = raw(b"data: " + b"x" * (2 << 20))
    with pytest.raises(BackendUnavailable, match="line of more than"):
        backend(fake, model="m").generate("p", max_new_tokens=4)


def test_a_config_file_fills_what_flags_and_environment_leave(monkeypatch, tmp_path):
    for var in ("CODEASSIST_BACKEND", "CODEASSIST_ENDPOINT", "CODEASSIST_REMOTE_MODEL", "CODEASSIST_TOKENIZER",
                "CODEASSIST_FALLBACK", "CODEASSIST_TIMEOUT", "CODEASSIST_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[backend]\nbackend = "remote"\nendpoint = "http://gpu-box:8000"\nmodel = "qwen-7b"\n'
                      'fallback = "local"\ntimeout = 12\n')
    monkeypatch.setenv("CODEASSIST_CONFIG", str(config))
    o = BackendOptions.from_env()
    assert (o.backend, o.endpoint, o.model, o.fallback, o.timeout_s) == ("remote", "http://gpu-box:8000", "qwen-7b", "local", 12.0)
    monkeypatch.setenv("CODEASSIST_ENDPOINT", "http://env-box:9000")  # the environment wins over the file
    assert BackendOptions.from_env(model="flag-model").endpoint == "http://env-box:9000"
    assert BackendOptions.from_env(model="flag-model").model == "flag-model"  # and flags over both
    assert BackendOptions.from_env(backend="local").model is None  # the file's model is the served one
    for bad, message in (('[backend]\napi_key = "sk-1"\n', "CODEASSIST_API_KEY"), ('[backend]\ntimeout = "x"\n', "wrong type"),
                         ("[backend\n", "not a readable TOML"), ('[backend]\ncolour = "blue"\n', "unknown key 'colour'")):
        config.write_text(bad)
        with pytest.raises(BackendError, match=message):
            BackendOptions.from_env()
    monkeypatch.setenv("CODEASSIST_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(BackendError, match="no such config file"):
        BackendOptions.from_env()
