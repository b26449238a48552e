"""Completion latency on a real repository: cold (empty KV cache) against warm (the same request right after
one with the cursor a few characters earlier, as when typing), at a ~4,096-token prompt, plus decode speed
against the memory-bandwidth limit. Cold and warm are the same request, so they generate the same tokens.

Run: python tests/bench/bench_completion.py [--repo DIR] [--cases N] [--threads T]

Prints a rich table. Not a pytest test (timings belong in benchmarks, not in assertions).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from codeassist.completion import CompletionRequest, CompletionService  # noqa: E402
from codeassist.packer import PackOptions  # noqa: E402
from indexer.index import Index  # noqa: E402

# ~4,096 prompt tokens in all: context + prefix + suffix (+ generation)
OPTIONS = PackOptions(context_tokens=2560, prefix_tokens=1280, suffix_tokens=256, max_new_tokens=32)
TYPED_CHARS = 3  # the warm request's cursor is this many characters further along the same line


def pick_cases(index: Index, n: int, seed: int) -> list[tuple[str, int, int]]:
    """(path, 1-based line, 0-based column) at the end of assignments in long Python files: a cursor
    after ``name = `` + at least TYPED_CHARS characters, so the cold request can sit TYPED_CHARS earlier."""
    rng = random.Random(seed)
    files = sorted(p for p, lang in index.snapshot().languages.items()
                   if lang == "python" and not p.startswith("tests/") and (index.root / p).stat().st_size > 6000)
    cases = []
    for path in rng.sample(files, len(files)):
        lines = index.read_text(path).split("\n")
        spots = [(i, l.index(" = ") + 3) for i, l in enumerate(lines)
                 if " = " in l and i > 60 and len(l) - (l.index(" = ") + 3) > TYPED_CHARS + 2]
        if spots:
            i, col = rng.choice(spots)
            cases.append((path, i + 1, col + TYPED_CHARS))
        if len(cases) == n:
            break
    return cases


def memory_bandwidth_gbs() -> float:
    """Read bandwidth measured as the best of five sums over a 512 MiB array (GB/s)."""
    a = np.ones(64 * 1024 * 1024, dtype=np.float64)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best / 1e9


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default=str(ROOT))
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=160)
    index = Index(args.repo)
    index.refresh()
    service = CompletionService(index, options=OPTIONS)
    cases = pick_cases(index, args.cases, args.seed)
    cold, warm = [], []
    for path, line, col in cases:
        # the same request twice: cold (empty KV cache), then warm (after the request TYPED_CHARS earlier, as
        # when typing), so that both generate the same tokens and the difference is what the cache saves
        req = CompletionRequest(path, line, col, max_new_tokens=OPTIONS.max_new_tokens)
        service.engine.reset()
        a = service.complete(req)
        service.engine.reset()
        service.complete(CompletionRequest(path, line, col - TYPED_CHARS, max_new_tokens=OPTIONS.max_new_tokens))
        b = service.complete(req)
        cold.append(a)
        warm.append(b)
        console.print(f"{path}:{line}:{col}  cold {a.latency_ms:.0f} ms ({a.prompt_tokens} tok)  "
                      f"warm {b.latency_ms:.0f} ms ({b.cached_tokens} cached)")

    def prefill_tps(r):
        return (r.prompt_tokens - r.cached_tokens) / (r.timings["prefill_ms"] / 1000)

    def decode_tps(rs):
        toks = [r.generated_tokens for r in rs]  # generated, not what is left after the stop rules cut
        secs = [r.timings["decode_ms"] / 1000 for r in rs]
        return sum(toks) / sum(secs) if sum(secs) else 0.0

    table = Table(title=f"Completion latency, {len(cases)} cursors in {Path(args.repo).name}, {args.threads} threads")
    for col in ("request", "prompt tokens (mean)", "cached (mean)", "p50 ms", "p95 ms", "prefill p50 ms",
                "generated tokens (mean)", "prefill tok/s", "decode tok/s"):
        table.add_column(col)
    for name, rs in (("cold", cold), ("warm", warm)):
        lat = [r.latency_ms for r in rs]
        table.add_row(name, f"{statistics.mean(r.prompt_tokens for r in rs):.0f}",
                      f"{statistics.mean(r.cached_tokens for r in rs):.0f}", f"{pct(lat, .5):.0f}", f"{pct(lat, .95):.0f}",
                      f"{pct([r.timings['prefill_ms'] for r in rs], .5):.0f}",
                      f"{statistics.mean(r.generated_tokens for r in rs):.1f}",
                      f"{statistics.mean(prefill_tps(r) for r in rs):.0f}", f"{decode_tps(rs):.1f}")
    ratio = pct([r.latency_ms for r in warm], .5) / pct([r.latency_ms for r in cold], .5)
    prefill_ratio = pct([r.timings["prefill_ms"] for r in warm], .5) / pct([r.timings["prefill_ms"] for r in cold], .5)
    table.add_row("warm / cold (p50)", "", "", f"{ratio:.2f}", "", f"{prefill_ratio:.2f}", "", "", "")
    console.print(table)

    # bytes read per decoded token: every weight but the input embedding table (one row of it is read)
    model = service.loaded.model
    embed = model.get_input_embeddings().weight
    params = sum(p.numel() * p.element_size() for p in model.parameters() if p is not embed)
    if model.get_output_embeddings() is not None and model.get_output_embeddings().weight is embed:
        params += embed.numel() * embed.element_size()  # tied: the output projection reads it whole
    bw = memory_bandwidth_gbs()
    limit = bw * 1e9 / params
    t2 = Table(title="Decode against the memory-bandwidth limit")
    for col in ("weights (GB)", "measured read bandwidth (GB/s)", "limit tok/s", "measured tok/s", "share of limit"):
        t2.add_column(col)
    measured = decode_tps(cold + warm)
    t2.add_row(f"{params / 1e9:.2f}", f"{bw:.1f}", f"{limit:.1f}", f"{measured:.1f}", f"{measured / limit:.0%}")
    console.print(t2)
    console.print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
                  f"target warm <= 0.25x cold: {'met' if ratio <= 0.25 else 'NOT met'}")


if __name__ == "__main__":
    main()
