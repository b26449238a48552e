"""Context gathering per keystroke in a large repository: the buffer overlay and graph reuse against
rebuilding the snapshot and ranking graph on every buffer edit (what the index did before).

Run: python tests/bench/bench_keystroke.py [--corpus DIR] [--file REL] [--keystrokes N] [--typed TEXT]

``--typed`` changes the line typed; after a dot that follows a class (``OrderedDict.``, or a variable bound to
one), the context also quotes the class's members (``codeassist/receiver.py``), e.g.
``--file lib/inspect.py --typed "names = OrderedDict.fromkeys(sorted(seen), None)"``.

The corpus (default: this interpreter's standard library without site-packages, copied to a temporary
directory) is indexed once. Then one file is "typed into": a new line is added inside the file, one
character per keystroke, and every keystroke does what a completion request does before the model runs:
``Index.update_buffer`` with the new text, then ``gather_context`` at the cursor (1,024-token budget, the
language server's default; ranked definitions and the similar-code search). The first context, which builds
the ranking graph and the similar-code search, is timed on its own. Both variants type the same characters, one variant after the other:

- ``incremental``: the index and ranker as they are;
- ``rebuild every keystroke``: the cached database view and ranking graph are dropped before each
  keystroke, so both are rebuilt from the database, as every buffer edit did before.

Also counts the keystrokes whose similar code differs from the keystroke before: from there on the prompt
changes, and the model's KV cache covers less of it.

Prints a rich table; not a pytest test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from codeassist.context import ContextCache, gather_context  # noqa: E402
from codeassist.similar import REASON as SIMILAR  # noqa: E402
from indexer.index import Index  # noqa: E402
from indexer.rank import Ranker  # noqa: E402

TYPED = "result = json.dumps(scanstring(s, end), sort_keys=True)"  # typed into a function body
BUDGET = 1024


def copy_stdlib(dest: Path) -> None:
    src = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
                    symlinks=False, ignore_dangling_symlinks=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", help="directory to index (default: a copy of the standard library)")
    ap.add_argument("--file", default="lib/json/decoder.py", help="file typed into, relative to the corpus")
    ap.add_argument("--typed", default=TYPED, help="the line typed, one character per keystroke")
    ap.add_argument("--keystrokes", type=int, help="at most this many keystrokes (default: the whole line)")
    args = ap.parse_args()
    console = Console(width=140)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.corpus) if args.corpus else Path(tmp) / "stdlib"
        if not args.corpus:
            copy_stdlib(root / "lib")
        index = Index(root, db_path=Path(tmp) / "index.sqlite")
        t0 = time.perf_counter()
        stats = index.refresh()
        console.print(f"indexed {stats.files} files in {time.perf_counter() - t0:.1f} s")
        text = index.read_text(args.file)
        lines = text.split("\n")
        at = next((i for i, line in enumerate(lines) if line.lstrip().startswith("def ")), len(lines) // 2)
        indent = " " * (len(lines[at]) - len(lines[at].lstrip()) + 4)  # the body of the first function
        while lines[at].rstrip().endswith(("(", ",")):  # past a signature spanning lines
            at += 1
        at += 1
        ranker, cache = Ranker(index), ContextCache()
        t0 = time.perf_counter()
        gather_context(index, ranker, args.file, at + 1, 0, budget=BUDGET, cache=cache, text=text)  # warm-up
        windows = len(cache.similar(index, "python"))
        console.print(f"first context (builds the ranking graph and the similar-code search over {windows:,} "
                      f"windows): {time.perf_counter() - t0:.1f} s")
        times: dict[str, list[float]] = {"incremental": [], "rebuild every keystroke": []}
        rebuilds = members = similar_changes = 0
        last_similar = None
        for name in times:  # one variant after the other: interleaved, the rebuilds' garbage slows the other
            for k in range(1, min(args.keystrokes or len(args.typed), len(args.typed)) + 1):
                typed = indent + args.typed[:k]
                buffer = "\n".join(lines[:at] + [typed] + lines[at:])
                if name != "incremental":
                    index._disk, index._snapshot, ranker._graph = None, None, None
                graph_before = ranker._graph
                t = time.perf_counter()
                index.update_buffer(args.file, buffer)
                ctx = gather_context(index, ranker, args.file, at + 1, len(typed), budget=BUDGET, cache=cache,
                                     text=buffer)
                times[name].append((time.perf_counter() - t) * 1000)
                members += name == "incremental" and any(s.reason.startswith("members of") for s in ctx.snippets)
                similar = [(s.path, s.start_line) for s in ctx.snippets if s.reason == SIMILAR]
                similar_changes += name == "incremental" and last_similar is not None and similar != last_similar
                last_similar = similar
                if name == "incremental" and ranker._graph is not graph_before:
                    rebuilds += 1
        table = Table(title=f"Per keystroke: update_buffer + gather_context, {stats.files} files, "
                            f"{len(times['incremental'])} keystrokes into {args.file}")
        for col in ("variant", "p50 ms", "p95 ms", "mean ms", "graph rebuilds"):
            table.add_column(col)
        for name, ms in times.items():
            ms_sorted = sorted(ms)
            p95 = ms_sorted[min(len(ms) - 1, int(0.95 * len(ms)))]
            table.add_row(name, f"{statistics.median(ms):.0f}", f"{p95:.0f}", f"{statistics.mean(ms):.0f}",
                          str(rebuilds) if name == "incremental" else str(len(ms)))
        console.print(table)
        console.print(f"keystrokes whose context quotes the receiver's class members: {members}")
        console.print(f"keystrokes whose similar code differs from the keystroke before (the prompt changes "
                      f"from there on, so the KV cache covers less of it): {similar_changes}")
        index.close()


if __name__ == "__main__":
    main()
