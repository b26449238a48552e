"""Index throughput benchmark: codeassist's indexer against universal-ctags on code no one here wrote.

Run as a script (pytest does not collect it):

    python tests/bench/bench_index.py [--corpus DIR] [--repeat N] [--workers N] [--json FILE]

By default the corpus is this interpreter's standard library (``sysconfig.get_paths()['stdlib']``)
without ``site-packages``. Its ``.py`` files are copied once into a temporary directory (not a git
repository, so the indexer walks it like ctags does) and both tools index that same copy:

- ``ctags -R --languages=Python -f <tmp tags file> <dir>`` (universal-ctags), best of N;
- codeassist cold: ``Index(dir, db_path=<fresh db>).refresh()``, a fresh database each run, best of N;
- codeassist no-op refresh: a second ``refresh()`` on the same index, nothing changed;
- codeassist one changed file: append a line to one file, then ``refresh()``;
- codeassist ``Index.update_file(path)`` after appending a line to that file.

Targets (from the issue): cold <= 5x ctags cold, no-op refresh <= 0.5x ctags cold, one changed
file < 100 ms. The exit status is 0 whether or not targets are met (this is a measurement, not a gate).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without ``pip install -e .``
    sys.path.insert(0, str(REPO_ROOT))

from indexer import discover as disc  # noqa: E402
from indexer.index import Index  # noqa: E402

COLD_FACTOR = 5.0  # codeassist cold <= this x ctags cold
NOOP_FACTOR = 0.5  # no-op refresh <= this x ctags cold
CHANGED_MAX_S = 0.100  # one changed file: refresh strictly under this many seconds
MIN_LOAD_WALL_S = 0.25  # runs shorter than this get no "others' load" figure
EXCLUDED_DIRS = {"site-packages", "__pycache__"}


@dataclass
class Corpus:
    source: Path
    root: Path  # the copy
    files: int
    lines: int
    bytes: int
    sizes: dict[str, int] = field(default_factory=dict)  # relative path -> lines


@dataclass
class Measurement:
    name: str
    runs: Runs
    per_line_of: int  # lines the µs/line column divides by
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.runs.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.runs.cpu)


def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def copy_corpus(source: Path, dest: Path) -> Corpus:
    """Copies every ``.py`` file under ``source`` (not under site-packages or __pycache__) into ``dest``."""
    files = lines = size = 0
    sizes: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        rel_dir = Path(dirpath).relative_to(source)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            src = Path(dirpath) / name
            if src.is_symlink() or not src.is_file():
                continue
            data = src.read_bytes()
            target = dest / rel_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            rel = (rel_dir / name).as_posix()
            sizes[rel] = count_lines(data)
            files += 1
            lines += sizes[rel]
            size += len(data)
    return Corpus(source, dest, files, lines, size, sizes)


def cpu_seconds() -> float:
    """User+system CPU of this process and of its reaped children (ctags, pool workers) so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes on the machine have used since boot (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def wait_until_quiet(max_wait: float, console: Console, threshold: float = 0.1) -> None:
    """Waits (at most ``max_wait`` s) until other processes use under ``threshold`` cores, sampled over 0.5 s."""
    if max_wait <= 0 or machine_busy_seconds() is None:
        return
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = machine_busy_seconds(), time.perf_counter()
        time.sleep(0.5)
        busy = (machine_busy_seconds() - b0) / (time.perf_counter() - t0)
        if busy < threshold:
            return
        if time.monotonic() > deadline:
            console.print(f"[yellow]machine still busy ({busy:.2f} cores used by others); measuring anyway")
            return


class Runs:
    """Wall-clock and CPU seconds of repeated runs of one measurement, and how busy the rest of the machine was."""

    quiet_wait = 0.0  # seconds to wait for a quiet machine before each run (--quiet)
    console: Console | None = None

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.others: list[float | None] = []  # cores used by other processes during each run, on average

    def time(self, fn):
        if self.quiet_wait and self.console is not None:
            wait_until_quiet(self.quiet_wait, self.console)
        b0, c0, t0 = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
        result = fn()
        wall, cpu, b1 = time.perf_counter() - t0, cpu_seconds() - c0, machine_busy_seconds()
        self.wall.append(wall)
        self.cpu.append(cpu)
        # /proc/stat counts in 10 ms ticks: too coarse to say anything about shorter runs
        short = wall < MIN_LOAD_WALL_S
        self.others.append(None if b0 is None or b1 is None or short else max(0.0, (b1 - b0 - cpu) / wall))
        return result

    @property
    def best_index(self) -> int:
        return self.wall.index(min(self.wall))


def ctags_version() -> str:
    try:
        out = subprocess.run(["ctags", "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"ctags is not runnable: {e}")
    first = out.splitlines()[0] if out else ""
    if "Universal Ctags" not in first:
        sys.exit(f"need universal-ctags, found: {first!r}")
    return first


def run_ctags(root: Path, tags_file: Path) -> None:
    subprocess.run(["ctags", "-R", "--languages=Python", "-f", str(tags_file), str(root)], check=True)


def count_tags(tags_file: Path) -> int:
    with open(tags_file, "rb") as f:
        return sum(1 for line in f if not line.startswith(b"!_"))


def append_line(path: Path, n: int) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"_codeassist_bench_edit_{n} = {n}\n")


def pick_edit_file(corpus: Corpus) -> str:
    """A typical file to edit: the one with the median line count (ties broken by path)."""
    ordered = sorted(corpus.sizes.items(), key=lambda kv: (kv[1], kv[0]))
    return ordered[len(ordered) // 2][0]


def codeassist_revision() -> str:
    """The checkout's commit, and whether ``indexer/`` differs from it (the code being measured)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "indexer")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {commit}" + (", indexer/ modified" if dirty else ", indexer/ clean")


def machine_info(ctags: str) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    import tree_sitter

    return {
        "codeassist": codeassist_revision(),
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "ctags": ctags,
        "tree_sitter": getattr(tree_sitter, "__version__", "?"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(sysconfig.get_paths()["stdlib"]),
                    help="directory whose .py files are indexed (default: the stdlib, without site-packages)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported (default 3)")
    ap.add_argument("--workers", type=int, default=None, help="parse workers for refresh (default: all cores)")
    ap.add_argument("--one-worker", action="store_true",
                    help="also time a cold refresh with workers=1 (per-core cost; ctags is single-threaded)")
    ap.add_argument("--floor", action="store_true",
                    help="also time the floor of any tree-sitter indexer: parse every file and walk its tree with a "
                         "one-pattern query, in the same process pool, with no Python per node and no SQLite")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each run, wait up to SECONDS for other processes to go (nearly) idle (shared machines)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if not args.corpus.is_dir():
        ap.error(f"{args.corpus} is not a directory")

    console = Console(width=None if sys.stdout.isatty() else 160)
    Runs.quiet_wait, Runs.console = args.quiet, console
    ctags = ctags_version()
    info = machine_info(ctags)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="codeassist-bench-"))
    try:
        t0 = time.perf_counter()
        corpus = copy_corpus(args.corpus.resolve(), work / "corpus")
        t_copy = time.perf_counter() - t0
        if corpus.files == 0:
            sys.exit(f"no .py files under {args.corpus}")
        if disc._git_paths(corpus.root) is not None:
            console.print(f"[yellow]warning: {corpus.root} is inside a git work tree; the indexer will list it through git")
        measurements, extra = run_benchmarks(corpus, work, args.repeat, args.workers, args.one_worker, console,
                                            floor=args.floor)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    console.print(f"[bold]Machine[/]: nproc={info['nproc']} (os.cpu_count={info['cpu_count']}), {info['cpu']}; "
                  f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    console.print(f"[bold]Code[/]: codeassist {info['codeassist']}")
    console.print(f"[bold]Python[/]: {info['python']} on {info['platform']}; tree-sitter {info['tree_sitter']}; {info['ctags']}")
    console.print(
        f"[bold]Corpus[/]: {corpus.source} (.py, without site-packages) copied to a temp dir in {t_copy:.2f} s: "
        f"{corpus.files:,} files, {corpus.lines:,} lines, {corpus.bytes / 1e6:.1f} MB"
    )
    console.print(
        f"[bold]Indexed[/]: codeassist {extra['indexed_files']:,} files, {extra['symbols']:,} symbols "
        f"(not indexed: {extra['not_indexed']}); ctags {extra['ctags_tags']:,} tags"
    )
    console.print(f"[bold]Edited file[/]: {extra['edit_file']} ({extra['edit_lines']:,} lines); "
                  f"best of {args.repeat} runs each; workers={args.workers or 'all cores'}")
    console.print(render_table(measurements, corpus, args.repeat))
    if args.markdown:
        console.print(render_markdown(measurements, corpus), markup=False, highlight=False, soft_wrap=True)
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info,
            "load_average": {"before": load_before, "after": load_after},
            "corpus": {"source": str(corpus.source), "files": corpus.files, "lines": corpus.lines, "bytes": corpus.bytes},
            "repeat": args.repeat,
            "workers": args.workers,
            "extra": extra,
            "measurements": [
                {"name": m.name, "best_s": m.best, "runs_s": m.runs.wall, "cpu_s": m.runs.cpu, "others_cores": m.runs.others,
                 "us_per_line": m.best * 1e6 / m.per_line_of, "per_line_of": m.per_line_of,
                 "target": m.target, "met": m.met}
                for m in measurements
            ],
        }, indent=2))
    return 0


def _floor_file(path: str) -> int:
    """Parses one file and walks its tree with a one-pattern query; returns the captures (to use the result)."""
    import tree_sitter

    from indexer import languages

    tree = languages.parser("python").parse(Path(path).read_bytes())
    query = _floor_query()
    return len(tree_sitter.QueryCursor(query).captures(tree.root_node))


def _floor_query():
    import tree_sitter

    from indexer import languages

    global _FLOOR_QUERY
    if _FLOOR_QUERY is None:  # one class definition pattern: few captures, so the time is the cursor's walk
        _FLOOR_QUERY = tree_sitter.Query(languages.parser("python").language,
                                         "(class_definition name: (identifier) @name) @definition.class")
    return _FLOOR_QUERY


_FLOOR_QUERY = None


def time_floor(corpus: Corpus, workers: int | None, runs: Runs) -> None:
    """The floor: ``_floor_file`` over every corpus file in a fork pool of ``workers`` (default: all cores)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from indexer.index import POOL_CHUNK

    paths = [str(corpus.root / rel) for rel in sorted(corpus.sizes)]
    workers = workers or len(os.sched_getaffinity(0))

    def run():
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            return sum(pool.map(_floor_file, paths, chunksize=POOL_CHUNK))

    runs.time(run)


def run_benchmarks(corpus: Corpus, work: Path, repeat: int, workers: int | None, one_worker: bool, console: Console,
                   *, floor: bool = False):
    root = corpus.root
    edit_rel = pick_edit_file(corpus)
    edit_path = root / edit_rel
    dbs = work / "dbs"

    ctags = Runs()
    tag_count = 0
    for i in range(repeat):
        tags_file = work / f"tags-{i}"
        ctags.time(lambda: run_ctags(root, tags_file))
        tag_count = count_tags(tags_file)
        tags_file.unlink(missing_ok=True)
    console.print(f"ctags cold: {', '.join(f'{t:.3f}' for t in ctags.wall)} s")

    cold, noop, changed, single, cold1 = Runs(), Runs(), Runs(), Runs(), Runs()
    stats = None
    edit_n = 0
    for i in range(repeat):
        db = dbs / f"run-{i}" / "index.sqlite"

        def cold_run():
            ix = Index(root, db_path=db)
            return ix, ix.refresh(workers=workers)

        ix, stats = cold.time(cold_run)
        try:
            s = noop.time(lambda: ix.refresh(workers=workers))
            assert s.reparsed == 0 and s.removed == 0, s

            edit_n += 1
            append_line(edit_path, edit_n)
            s = changed.time(lambda: ix.refresh(workers=workers))
            assert s.reparsed == 1, s

            edit_n += 1
            append_line(edit_path, edit_n)
            assert single.time(lambda: ix.update_file(edit_path))
        finally:
            ix.close()
        shutil.rmtree(db.parent, ignore_errors=True)
        console.print(
            f"codeassist run {i + 1}/{repeat}: cold {cold.wall[-1]:.3f} s, no-op {noop.wall[-1] * 1e3:.1f} ms, "
            f"one changed file {changed.wall[-1] * 1e3:.1f} ms, update_file {single.wall[-1] * 1e3:.1f} ms"
        )
        if one_worker:
            db1 = dbs / f"one-{i}" / "index.sqlite"

            def cold_one():
                with Index(root, db_path=db1) as ix1:
                    return ix1.refresh(workers=1)

            cold1.time(cold_one)
            shutil.rmtree(db1.parent, ignore_errors=True)
            console.print(f"codeassist run {i + 1}/{repeat}: cold, 1 worker {cold1.wall[-1]:.3f} s")

    floor_runs = Runs()
    if floor:
        for i in range(repeat):
            time_floor(corpus, workers, floor_runs)
            console.print(f"floor run {i + 1}/{repeat}: {floor_runs.wall[-1]:.3f} s")

    ctags_best = min(ctags.wall)
    ms = [
        Measurement("ctags -R cold (baseline)", ctags, corpus.lines, "—", None),
        Measurement("codeassist cold refresh (fresh db)", cold, corpus.lines,
                    f"≤ {COLD_FACTOR:g}× ctags = {COLD_FACTOR * ctags_best:.3f} s", min(cold.wall) <= COLD_FACTOR * ctags_best),
        Measurement("codeassist no-op refresh", noop, corpus.lines,
                    f"≤ {NOOP_FACTOR:g}× ctags = {NOOP_FACTOR * ctags_best:.3f} s", min(noop.wall) <= NOOP_FACTOR * ctags_best),
        Measurement("codeassist refresh, one changed file", changed, corpus.lines,
                    f"< {CHANGED_MAX_S * 1e3:.0f} ms", min(changed.wall) < CHANGED_MAX_S),
        Measurement("codeassist update_file(path) after edit", single, corpus.sizes[edit_rel],
                    "—", None, note="update_file: per line of the edited file"),
    ]
    if one_worker:
        ms.insert(2, Measurement("codeassist cold refresh, workers=1 (info)", cold1, corpus.lines, "—", None))
    if floor:
        ms.insert(2, Measurement("floor: tree-sitter parse + one-pattern query walk only (info)", floor_runs,
                                 corpus.lines, "—", None))
    not_indexed = {"skipped": stats.skipped, "left out by discover": corpus.files - stats.files - sum(stats.skipped.values())}
    extra = {
        "indexed_files": stats.files,
        "symbols": stats.symbols,
        "not_indexed": not_indexed,
        "ctags_tags": tag_count,
        "edit_file": edit_rel,
        "edit_lines": corpus.sizes[edit_rel],
    }
    return ms, extra


COLUMNS = ("measurement", "seconds", "µs / line", "× ctags cold", "target", "met", "CPU s (user+sys)", "others' load",
           "all runs (s)")


def _rows(ms: list[Measurement]) -> list[tuple[str, ...]]:
    ctags_best = ms[0].best
    rows = []
    for m in ms:
        met = "—" if m.met is None else ("yes" if m.met else "NO")
        per_line = f"{m.best * 1e6 / m.per_line_of:.2f}" + ("*" if m.note else "")
        rows.append((m.name, f"{m.best:.4f}", per_line, f"{m.best / ctags_best:.3f}", m.target, met,
                     f"{m.best_cpu:.4f}", _load(m.runs.others[m.runs.best_index]),
                     ", ".join(f"{t:.4f}" for t in m.runs.wall)))
    return rows


def _load(cores: float | None) -> str:
    return "n/a" if cores is None else f"{cores:.2f} cores"


def _caption(ms: list[Measurement]) -> str:
    notes = [m.note for m in ms if m.note]
    return ("seconds: best wall-clock run; µs / line: per corpus line" + ("; * " + "; ".join(notes) if notes else "")
            + "; CPU s: least user+sys CPU of any run, this process plus its children (ctags, parse workers)"
            + "; others' load: CPU used by other processes during the best run, in cores (/proc/stat; n/a for runs under 0.25 s)")


def render_table(ms: list[Measurement], corpus: Corpus, repeat: int) -> Table:
    table = Table(title=f"Index throughput — {corpus.files:,} files, {corpus.lines:,} lines, best of {repeat}",
                  caption=_caption(ms))
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("measurement", "target") else "right",
                         style="dim" if col == "all runs (s)" else None)
    for row in _rows(ms):
        met = row[5]
        styled = "[green]yes[/]" if met == "yes" else "[red]NO[/]" if met == "NO" else met
        table.add_row(*row[:5], styled, *row[6:])
    return table


def render_markdown(ms: list[Measurement], corpus: Corpus) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(ms)]
    return "\n".join(lines) + "\n\n" + _caption(ms) + "."


if __name__ == "__main__":
    raise SystemExit(main())
