"""The terminal ``patch`` command on a small task set: instructions on fixture repositories (Python and
JavaScript) under tests/bench/patch_tasks/, each with a shell check that exits 0 iff the task is done.

Run: CODEASSIST_THREADS=1 python tests/bench/bench_patch.py [--tasks N] [--only ID ...]
     [--max-new-tokens 512] [--json PATH]

For each task the fixture repo is copied to a temporary git repository, indexed, and given to
``codeassist.patch.propose_patch`` (the function behind ``codeassist patch``, with its defaults).
Recorded per task: well-formed (the first answer parses as at least one SEARCH/REPLACE edit, before any
error feedback), applied (some attempt's edits applied in memory without a syntax regression), check
passing (those changes written with ``codeassist.apply.write_changes`` and the check run in the repo),
attempts and seconds (model time, without indexing); per answer whether it parsed. Each task's
reference solution (``solutions/ID.diff``; tests/codeassist/test_patch_tasks.py proves the checks with
them) names the files that must change, so a row also says which of them were not shown to the model.
Per-task results are printed as they come and written to the JSON file after each task (with the model
outputs), so a partial run still leaves its results.

Not a pytest test (model quality and timings belong in benchmarks, not in assertions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from codeassist.apply import write_changes  # noqa: E402
from codeassist.edits import EditError, parse_edits  # noqa: E402
from codeassist.engine import Engine  # noqa: E402
from codeassist.models import load_model  # noqa: E402
from codeassist.patch import DEFAULT_MAX_NEW_TOKENS, propose_patch  # noqa: E402
from indexer.index import Index  # noqa: E402

TASKS_DIR = Path(__file__).resolve().parent / "patch_tasks"
SOLUTIONS_DIR = TASKS_DIR / "solutions"
CHECK_TIMEOUT = 60  # seconds per check command
DIFF_TARGET_RE = re.compile(r"^\+\+\+ b/(.+)$", re.M)


def check_env() -> dict[str, str]:
    """The environment for check commands: ``python`` is this interpreter."""
    return {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}


def needed_files(task: dict) -> list[str]:
    """Files the task's reference solution changes (repository-relative)."""
    return DIFF_TARGET_RE.findall((SOLUTIONS_DIR / f"{task['id']}.diff").read_text())


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                   cwd=root, check=True, capture_output=True)


def make_repo(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    git(dest, "init", "-q")
    (dest / ".gitignore").write_text(".codeassist/\n__pycache__/\n")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "fixture")


def run_task(task: dict, loaded, engine, max_new_tokens: int) -> dict:
    row = {"id": task["id"], "repo": task["repo"], "kind": task.get("kind", ""), "instruction": task["instruction"],
           "well_formed": False, "answers_parsed": [], "applied": False, "check": False, "attempts": 0,
           "seconds": 0.0, "files_shown": [], "files_not_shown": [], "errors": [], "check_output": "",
           "changed": {}, "outputs": []}
    with tempfile.TemporaryDirectory(prefix="bench-patch-") as tmp:
        repo = Path(tmp) / task["repo"]
        make_repo(TASKS_DIR / task["repo"], repo)
        index = Index(repo)
        try:
            index.refresh(workers=1)
            t0 = time.perf_counter()
            try:
                proposal = propose_patch(index, loaded, engine, task["instruction"], max_new_tokens=max_new_tokens)
            except Exception as e:  # a crash in codeassist is a result too
                row.update(errors=[f"propose_patch raised {type(e).__name__}: {e}"], seconds=time.perf_counter() - t0)
                return row
        finally:
            index.close()
        answers = [parses(o) for o in proposal.outputs]
        row.update(well_formed=bool(answers) and answers[0], answers_parsed=answers, applied=proposal.ok,
                   attempts=proposal.attempts, seconds=proposal.seconds, files_shown=proposal.files,
                   files_not_shown=[p for p in needed_files(task) if p not in proposal.files],
                   errors=proposal.errors, outputs=proposal.outputs)
        if proposal.ok:
            row["changed"] = {c.path: None if c.new is None else c.new.decode("utf-8", "replace")
                              for c in proposal.changes}
            try:
                write_changes(repo, proposal.changes, description=task["instruction"])
                res = subprocess.run(task["check"], shell=True, cwd=repo, capture_output=True, text=True,
                                     timeout=CHECK_TIMEOUT, env=check_env())
                row["check"] = res.returncode == 0
                row["check_output"] = (res.stdout + res.stderr)[-1500:]
            except Exception as e:
                row["check_output"] = f"{type(e).__name__}: {e}"
    return row


def parses(output: str) -> bool:
    """The answer parses as at least one edit. Stricter than ``proposal.well_formed``, which stays True
    after a parse error that is not a truncation, and carries an earlier attempt's True over."""
    try:
        return bool(parse_edits(output))
    except EditError:
        return False


def yn(v: bool) -> str:
    return "[green]yes[/]" if v else "[red]no[/]"


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    rate = lambda k: sum(r[k] for r in rows) / n if n else 0.0  # noqa: E731
    answers = [a for r in rows for a in r["answers_parsed"]]
    return {"tasks": n, "well_formed_rate": rate("well_formed"),
            "answers_well_formed": f"{sum(answers)}/{len(answers)}", "applied_rate": rate("applied"),
            "check_rate": rate("check"), "median_seconds": statistics.median(r["seconds"] for r in rows) if n else 0.0,
            "mean_attempts": statistics.mean(r["attempts"] for r in rows) if n else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=None, help="run only the first N tasks")
    ap.add_argument("--only", action="append", metavar="ID", help="run only the task with this id (repeatable)")
    ap.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help="per attempt")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: $CODEASSIST_THREADS)")
    ap.add_argument("--json", default="/tmp/bench_patch.json", help="where results are written after each task")
    args = ap.parse_args()

    console = Console(width=None if sys.stdout.isatty() else 120)  # a log file gets the full task ids
    tasks = json.loads((TASKS_DIR / "tasks.json").read_text())
    if args.only:
        unknown = set(args.only) - {t["id"] for t in tasks}
        if unknown:
            ap.error(f"unknown task id(s): {', '.join(sorted(unknown))}")
        tasks = [t for t in tasks if t["id"] in args.only]
    tasks = tasks[: args.tasks]
    t0 = time.perf_counter()
    loaded = load_model()
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine(loaded.model, loaded.tokenizer)
    console.print(f"model {loaded.name} loaded in {time.perf_counter() - t0:.1f} s; {len(tasks)} tasks, "
                  f"max_new_tokens={args.max_new_tokens}, threads={torch.get_num_threads()}")

    rows: list[dict] = []
    meta = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": loaded.name,
            "max_new_tokens": args.max_new_tokens, "threads": torch.get_num_threads(), "tasks_total": len(tasks)}
    for i, task in enumerate(tasks, 1):
        row = run_task(task, loaded, engine, args.max_new_tokens)
        rows.append(row)
        console.print(f"[{i}/{len(tasks)}] {row['id']}: well-formed={row['well_formed']} "
                      f"answers parsed={row['answers_parsed']} "
                      f"applied={row['applied']} check={row['check']} attempts={row['attempts']} "
                      f"{row['seconds']:.0f} s" + (f" errors={row['errors']}" if row["errors"] else ""))
        Path(args.json).write_text(json.dumps({"meta": meta, "summary": summarize(rows), "rows": rows}, indent=1))

    table = Table(title="codeassist patch: task set")
    for col in ("#", "task", "well-formed", "applied", "check", "attempts", "s", "not shown"):
        table.add_column(col, justify="right" if col in ("#", "attempts", "s") else "left")
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), r["id"], yn(r["well_formed"]), yn(r["applied"]), yn(r["check"]),
                      str(r["attempts"]), f"{r['seconds']:.0f}", ", ".join(r["files_not_shown"]))
    console.print(table)
    s = summarize(rows)
    console.print(f"tasks {s['tasks']}: well-formed first answer {s['well_formed_rate']:.0%} "
                  f"(all answers: {s['answers_well_formed']}), applied {s['applied_rate']:.0%}, "
                  f"check passing {s['check_rate']:.0%}, median {s['median_seconds']:.0f} s/task, "
                  f"mean attempts {s['mean_attempts']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
