"""The remote backend against a real engine: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
serving the default model's GGUF on loopback, started by the tests on a free port.

Covers completion with repository context, streaming, cancellation, the engine going away mid-stream (with
and without the local fallback) and the over-window error, through the library and the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from codeassist import weights
from codeassist.backends import BackendUnavailable, ContextWindowError, LocalBackend
from codeassist.completion import CompletionRequest, CompletionService
from codeassist.engine import Cancelled
from codeassist.formats import QWEN
from codeassist.remote import RemoteBackend, RemoteOptions
from indexer.index import Index
from tests.codeassist.conftest import FIXTURES, make_git_repo

SERVED_NAME = weights.DEFAULT_GGUF_FILENAME.removesuffix(".gguf")  # the alias the engine serves the GGUF under
START_TIMEOUT_S = 180.0  # loading the server and a 0.5B GGUF; generous for a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` on loopback serving the default GGUF; ``stop()`` kills it."""

    def __init__(self, *, n_ctx: int = 4096, threads: int | None = None, log: Path | None = None,
                 extra: tuple[str, ...] = ()):
        gguf = weights.default_gguf_path()
        if not weights.is_verified(gguf):
            raise RuntimeError(f"the default model is not installed at {gguf}: run `codeassist model install`")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        threads = threads or int(os.environ.get("CODEASSIST_THREADS") or 1)
        self.log_path = log
        out = open(log, "w") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", SERVED_NAME,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
             "--n_threads_batch", str(threads), "--interrupt_requests", "False", *extra],
            stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode} while starting")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready on {self.url} after {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


def llama_server(**kw) -> LlamaServer:
    if os.environ.get("CODEASSIST_SKIP_ENGINE_TESTS") == "1":
        pytest.skip("CODEASSIST_SKIP_ENGINE_TESTS=1")
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as e:
        pytest.fail(f"llama-cpp-python[server] is not installed ({e}): see the README's test command")
    return LlamaServer(**kw)


@pytest.fixture(scope="module")
def server():
    s = llama_server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def shop_index(tmp_path_factory):
    index = Index(make_git_repo(FIXTURES / "shop", tmp_path_factory.mktemp("remote") / "shop"))
    index.refresh()
    return index


def remote(url: str, **kw) -> RemoteBackend:
    return RemoteBackend(RemoteOptions(endpoint=url, model=SERVED_NAME, **kw))


def test_completion_with_repository_context(server, shop_index):
    backend = remote(server.url)
    assert backend.tokens.exact and backend.format is QWEN  # the served name maps to the local tokenizer
    service = CompletionService(shop_index, backend=backend)
    result = service.complete(CompletionRequest("shop/checkout.py", 7, 20))
    assert result.backend == "remote" and result.model == SERVED_NAME and result.fallback_reason is None
    assert "shop/pricing.py" in result.context_files
    assert result.completion.startswith("compute_invoice_total("), result.completion
    assert result.prompt_tokens > 100 and result.rope_scaling == "engine"


def test_streaming_delivers_growing_text_until_the_length_limit(server):
    seen: list[str] = []
    gen = remote(server.url).generate("<|fim_prefix|>def fib(n):\n    <|fim_suffix|>\n<|fim_middle|>",
                                      max_new_tokens=24, on_text=seen.append)
    assert len(seen) >= 10, seen  # chunk by chunk, not one final answer
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:]))
    assert seen[-1].startswith(gen.text) and gen.text
    assert gen.stop_reason in ("length", "stop_token") and 0 < gen.tokens <= 24


def test_cancelling_closes_the_stream_and_frees_the_engine(server):
    backend = remote(server.url)
    t0 = time.perf_counter()
    backend.generate("<|fim_prefix|>x = 1<|fim_suffix|><|fim_middle|>", max_new_tokens=4)
    short_s = time.perf_counter() - t0
    seen: list[str] = []
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        backend.generate("# a long essay about sorting algorithms\n", max_new_tokens=1000,
                         on_text=seen.append, cancel=lambda: len(seen) >= 3)
    assert len(seen) == 3
    # The server runs one request at a time (--interrupt_requests False): had it kept generating the
    # cancelled 1,000 tokens, this request would wait for them.
    t1 = time.perf_counter()
    backend.generate("<|fim_prefix|>y = 2<|fim_suffix|><|fim_middle|>", max_new_tokens=4)
    assert time.perf_counter() - t1 < 5 * short_s + 2, (time.perf_counter() - t1, short_s)


def test_the_engine_dying_mid_stream_is_unavailable_and_the_local_model_takes_over(shop_index, default_model):
    dying = llama_server()
    try:
        backend = remote(dying.url, retries=1, backoff_s=0.1)
        seen: list[str] = []

        def kill_after_two_chunks(text: str) -> None:
            seen.append(text)
            if len(seen) == 2:
                dying.stop()

        with pytest.raises(BackendUnavailable, match="mid-completion|ended the stream|unreachable"):
            backend.generate("# a long essay about sorting algorithms\n", max_new_tokens=500, on_text=kill_after_two_chunks)
        assert len(seen) >= 2
        service = CompletionService(shop_index, backend=backend, fallback=LocalBackend(default_model))
        result = service.complete(CompletionRequest("shop/checkout.py", 7, 20))
        assert result.backend == "local" and "unreachable" in result.fallback_reason
        assert result.completion.startswith("compute_invoice_total("), result.completion
        with pytest.raises(BackendUnavailable):  # without a fallback the error reaches the caller
            CompletionService(shop_index, backend=backend).complete(CompletionRequest("shop/checkout.py", 7, 20))
    finally:
        dying.stop()


def test_a_prompt_over_the_engine_window_is_a_clear_error():
    small = llama_server(n_ctx=256)
    try:
        backend = remote(small.url)
        prompt = "<|fim_prefix|>" + "value = compute(value)\n" * 120 + "<|fim_suffix|><|fim_middle|>"
        with pytest.raises(ContextWindowError, match="refused a prompt longer than its context window.*256"):
            backend.generate(prompt, max_new_tokens=8)
        assert backend.context_window == 256  # llama-cpp-python names its window only in this error
        with pytest.raises(ContextWindowError, match="context window of 256 tokens"):
            backend.generate(prompt, max_new_tokens=8)  # refused before sending
        assert backend.generate("<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>", max_new_tokens=4).tokens > 0
    finally:
        small.stop()


def cli(*args, cwd):
    env = {**os.environ, "CODEASSIST_THREADS": os.environ.get("CODEASSIST_THREADS", "1")}
    return subprocess.run([sys.executable, "-m", "codeassist", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env=env)


def test_cli_completes_remotely_and_exits_3_when_the_engine_is_down(server, shop_index):
    root = shop_index.root
    ok = cli("complete", "shop/checkout.py:7:21", "--backend", "remote", "--endpoint", server.url, "--model", SERVED_NAME,
             "--json", cwd=root)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["backend"] == "remote" and data["completion"].startswith("compute_invoice_total(")
    down = cli("complete", "shop/checkout.py:7:21", "--backend", "remote", "--endpoint", f"http://127.0.0.1:{free_port()}",
               "--model", SERVED_NAME, cwd=root)
    message = " ".join(down.stderr.split())  # rich wraps stderr at the terminal width
    assert down.returncode == 3 and "unreachable" in message and "is it running?" in message, down.stderr
    fallback = cli("complete", "shop/checkout.py:7:21", "--backend", "remote", "--endpoint", f"http://127.0.0.1:{free_port()}",
                   "--model", SERVED_NAME, "--fallback", "local", "--json", cwd=root)
    assert fallback.returncode == 0, fallback.stderr
    data = json.loads(fallback.stdout)
    assert data["backend"] == "local" and "unreachable" in data["fallback_reason"]
