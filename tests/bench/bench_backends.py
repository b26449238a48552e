"""Local transformers engine against llama.cpp's server on this machine: the same repository, the same
prompts, the same requests. Latency p50/p95, prefill and decode tokens/s, and the share of prompt tokens
served from each engine's prefix cache; plus decode speed on one fixed prompt (both engines run the
default Qwen2.5-Coder-0.5B Q4_K_M GGUF: transformers dequantized to bfloat16, llama.cpp as Q4_K_M).

Run: python tests/bench/bench_backends.py [--repo DIR] [--cases N] [--threads T]

Each cursor gets two requests, as when typing (each sent to both engines in turn): first at the cursor minus 3 characters, then at the
cursor. Prompts are packed once (by the local backend's tokenizer) and sent verbatim to both engines;
latency is the engine call (prefill + decode), the context/packing stages being the same for both.
llama-cpp-python's server does not report cached tokens in its responses; its log line
"Llama.generate: N prefix-match hit" is read instead (the server runs with --verbose True).
Prints a rich table. Not a pytest test (timings belong in benchmarks, not in assertions).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench_completion import TYPED_CHARS, pct, pick_cases  # noqa: E402
from codeassist.backends import LocalBackend  # noqa: E402
from codeassist.completion import CompletionRequest, CompletionService, make_stop_rule  # noqa: E402
from codeassist.packer import PackOptions  # noqa: E402
from codeassist.remote import RemoteBackend, RemoteOptions  # noqa: E402
from indexer.index import Index  # noqa: E402
from tests.codeassist.test_remote_engine import SERVED_NAME, LlamaServer  # noqa: E402

OPTIONS = PackOptions(context_tokens=1536, prefix_tokens=1024, suffix_tokens=256, max_new_tokens=32)
DECODE_PROMPT = "<|fim_prefix|>PRIMES = [\n    2,\n    3,\n    5,\n    7,\n<|fim_suffix|>\n]\n<|fim_middle|>"
DECODE_TOKENS = 96  # generated tokens for the decode-speed row
LOCAL, REMOTE = "transformers (in-process)", "llama.cpp server (remote)"
PREFIX_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit")


def engine_cached(log: Path, seen_bytes: int) -> int:
    """Prompt tokens llama.cpp reused for the request whose log starts at ``seen_bytes`` (-1: all of them)."""
    new = log.read_bytes()[seen_bytes:].decode("utf-8", "replace")
    if "full prompt already cached" in new:
        return -1
    hits = PREFIX_HIT.findall(new)
    return int(hits[-1]) if hits else 0


def measure(name, backend, phase, prep, prompt_tokens, server=None) -> dict:
    """One request through ``backend``: latency, prefill/decode split, tokens and cached prompt tokens."""
    seen = server.log_path.stat().st_size if server else 0
    gen = backend.generate(prep.prompt.text, max_new_tokens=OPTIONS.max_new_tokens,
                           stop_rule=make_stop_rule(prep.prefix, prep.suffix))
    cached = gen.cached_tokens
    if server is not None:
        time.sleep(0.2)  # let the server flush its log line
        cached = engine_cached(server.log_path, seen)
        cached = prompt_tokens if cached < 0 else cached
    return {"backend": name, "phase": phase, "ms": gen.prefill_ms + gen.decode_ms, "prefill_ms": gen.prefill_ms,
            "decode_ms": gen.decode_ms, "tokens": gen.tokens, "prompt": prompt_tokens, "cached": cached or 0}


def decode_speed(backend, **kw) -> tuple[float, int]:
    """(decode tokens/s after the first token, tokens generated) for DECODE_PROMPT."""
    gen = backend.generate(DECODE_PROMPT, max_new_tokens=DECODE_TOKENS, **kw)
    return (gen.tokens - 1) / (gen.decode_ms / 1000), gen.tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default=str(ROOT))
    ap.add_argument("--cases", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="inference threads for both engines")
    args = ap.parse_args()
    os.environ["CODEASSIST_THREADS"] = str(args.threads)
    console = Console(width=160)

    index = Index(Path(args.repo))
    index.refresh()
    local = LocalBackend()
    service = CompletionService(index, backend=local, options=OPTIONS)
    prepared = []
    for path, line, col in pick_cases(index, args.cases, args.seed):
        for phase, c in (("cursor", col - TYPED_CHARS), ("typed +3", col)):
            p = service.prepare(CompletionRequest(path, line, c, max_new_tokens=OPTIONS.max_new_tokens))
            prepared.append((phase, p, len(p.ids)))
    console.print(f"{len(prepared)} requests on {args.repo}, prompts of {min(x[2] for x in prepared)}–"
                  f"{max(x[2] for x in prepared)} tokens, {args.threads} thread(s)")

    log = Path("/tmp") / f"bench_backends_llama_{os.getpid()}.log"
    t0 = time.perf_counter()
    server = LlamaServer(n_ctx=8192, threads=args.threads, log=log, extra=("--verbose", "True"))
    console.print(f"llama_cpp.server ready in {time.perf_counter() - t0:.1f} s (log: {log})")
    remote = RemoteBackend(RemoteOptions(endpoint=server.url, model=SERVED_NAME, read_timeout_s=600))
    try:
        warm_prompt = prepared[0][1].prompt.text
        for backend in (local, remote):  # load and warm up both, outside the measurements
            backend.generate(warm_prompt[-200:], max_new_tokens=2)
        rows = []
        for phase, prep, n in prepared:  # interleaved, so that load from other processes hits both alike
            rows.append(measure(LOCAL, local, phase, prep, n))
            rows.append(measure(REMOTE, remote, phase, prep, n, server))
        local_decode = decode_speed(local)
        remote_decode = decode_speed(remote)
    finally:
        server.stop()

    table = Table("backend", "requests", "n", "prompt tokens (mean)", "p50 ms", "p95 ms", "prefill tok/s",
                  "decode tok/s", "cached-token ratio",
                  title="Same prompts, local transformers engine vs llama.cpp server (Qwen2.5-Coder-0.5B)")
    for name in (LOCAL, REMOTE):
        for phase in ("cursor", "typed +3", "all"):
            rs = [r for r in rows if r["backend"] == name and (phase == "all" or r["phase"] == phase)]
            ms = [r["ms"] for r in rs]
            prefill = sum(r["prompt"] - r["cached"] for r in rs) / (sum(r["prefill_ms"] for r in rs) / 1000)
            decode = statistics.median((r["tokens"] - 1) / (r["decode_ms"] / 1000) for r in rs if r["tokens"] > 1)
            ratio = sum(r["cached"] for r in rs) / sum(r["prompt"] for r in rs)
            table.add_row(name, phase, str(len(rs)), f"{statistics.mean(r['prompt'] for r in rs):.0f}",
                          f"{pct(ms, 0.5):.0f}", f"{pct(ms, 0.95):.0f}", f"{prefill:.0f}", f"{decode:.1f}", f"{ratio:.2f}")
    console.print(table)
    speed = Table("engine", "weights", "tokens generated", "decode tok/s",
                  title=f"Decode speed, same GGUF and prompt ({DECODE_TOKENS} tokens max, greedy)")
    speed.add_row("transformers", "dequantized to bfloat16", str(local_decode[1]), f"{local_decode[0]:.1f}")
    speed.add_row("llama.cpp (llama-cpp-python server)", "Q4_K_M as stored", str(remote_decode[1]), f"{remote_decode[0]:.1f}")
    console.print(speed)


if __name__ == "__main__":
    main()
