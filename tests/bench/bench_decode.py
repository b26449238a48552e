"""Decode speed of the in-process engine against llama.cpp, side by side in one run (issue 3's target:
within 1.5x of llama.cpp).

Run: python tests/bench/bench_decode.py [--threads 1,2] [--repeats 3] [--prompt-tokens 512] [--new-tokens 64]

Every variant decodes the same prompt (the first ``--prompt-tokens`` tokens of codeassist/engine.py) greedily
for ``--new-tokens`` tokens with no stop token, ``--repeats`` times, interleaved so that load from other
processes hits all variants alike; decode tokens/s counts the tokens after the first (prefill excluded):

- ``transformers nn.Linear``: the default model in bfloat16 with transformers' own linear layers;
- ``transformers gemv``: the same weights through ``codeassist.gemv`` (what ``load_model`` installs);
- ``codeassist engine``: gemv plus the lean one-token step of ``codeassist.decode`` (the engine's default);
- ``llama.cpp``: llama-cpp-python in-process on the same GGUF file (Q4_K_M as stored), same prompt token ids.

The transformers variants' greedy texts must be equal (gemv and the lean step are bitwise equal); llama.cpp's
weights differ (4-5 bits against bfloat16), so its text is shown for reference only. Prints a rich table;
not a pytest test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from codeassist import gemv, weights  # noqa: E402
from codeassist.engine import Engine  # noqa: E402
from codeassist.models import load_model  # noqa: E402

LINEAR, GEMV, LEAN = "transformers nn.Linear", "transformers gemv", "codeassist engine (gemv + lean step)"
LLAMA = "llama.cpp (Q4_K_M)"


def set_linear(model, cls) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and type(module) in (torch.nn.Linear, gemv.GemvLinear):
            module.__class__ = cls


def transformers_run(lm, ids: list[int], new_tokens: int, cls, lean: bool) -> tuple[float, str]:
    set_linear(lm.model, cls)
    engine = Engine(lm.model, lm.tokenizer)
    if not lean:
        engine._fast = None  # the plain transformers forward for every token
    elif engine._fast_decoder() is None:
        raise SystemExit("the lean decode step refused this model (its probe failed)")
    gen = engine.generate(ids, max_new_tokens=new_tokens, stop_ids=set())
    # decode_ms covers the tokens after the first (the first comes from the prefill's logits)
    return (gen.tokens - 1) / (gen.decode_ms / 1000), gen.text


def llama_run(llm, tokenizer, ids: list[int], new_tokens: int) -> tuple[float, str]:
    llm.reset()
    out: list[int] = []
    t1 = 0.0
    for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
        out.append(token)
        if len(out) == 1:
            t1 = time.perf_counter()
        if len(out) >= new_tokens:
            break
    return (len(out) - 1) / (time.perf_counter() - t1), tokenizer.decode(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts, each run for every engine")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--no-llama", action="store_true", help="skip llama.cpp (llama-cpp-python not installed)")
    args = ap.parse_args()

    lm = load_model()
    ids = lm.tokenizer((ROOT / "codeassist" / "engine.py").read_text())["input_ids"][: args.prompt_tokens]
    results: dict[tuple[str, int], list[float]] = {}
    texts: dict[str, str] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        llm = None
        if not args.no_llama:
            from llama_cpp import Llama

            llm = Llama(model_path=str(weights.default_gguf_path()), n_ctx=2048, n_batch=512,
                        n_threads=threads, n_threads_batch=threads, verbose=False)
        for _ in range(args.repeats):
            runs = [(LINEAR, lambda: transformers_run(lm, ids, args.new_tokens, torch.nn.Linear, False)),
                    (GEMV, lambda: transformers_run(lm, ids, args.new_tokens, gemv.GemvLinear, False)),
                    (LEAN, lambda: transformers_run(lm, ids, args.new_tokens, gemv.GemvLinear, True))]
            if llm is not None:
                runs.append((LLAMA, lambda: llama_run(llm, lm.tokenizer, ids, args.new_tokens)))
            for name, fn in runs:
                speed, text = fn()
                results.setdefault((name, threads), []).append(speed)
                texts.setdefault(name, text)
        del llm
    set_linear(lm.model, gemv.GemvLinear)

    table = Table(title=f"Decode, {len(ids)}-token prompt, {args.new_tokens} greedy tokens, median of {args.repeats}")
    for col in ("engine", "threads", "decode tok/s", "runs", "× llama.cpp time", "output = nn.Linear's"):
        table.add_column(col)
    for (name, threads), speeds in results.items():
        med = statistics.median(speeds)
        llama = results.get((LLAMA, threads))
        ratio = f"{statistics.median(llama) / med:.2f}" if llama else "-"
        same = "reference" if name == LINEAR else ("yes" if texts[name] == texts[LINEAR] else "no")
        table.add_row(name, str(threads), f"{med:.1f}", " ".join(f"{s:.1f}" for s in speeds), ratio, same)
    console = Console(width=150)
    console.print(table)
    for name, text in texts.items():
        console.print(f"{name}: {text[:80]!r}")


if __name__ == "__main__":
    main()
