"""The ``codeassist`` command line: index, symbols, context, model, complete, eval, patch, apply, undo.

Only this module prints. Human output goes through rich (progress bars on stderr, tables on stdout);
``--json`` prints one JSON document for machines. Errors print one line on stderr and exit non-zero:
2 for bad input (usage, paths, positions), 3 for a model that cannot be loaded or verified.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeassist import weights
from codeassist.evaluation.cases import CASE_KINDS
from codeassist.position import PositionError, parse_location
from indexer.index import Index, IndexError_
from indexer.rank import Ranker
from indexer.store import IndexBusy

out = Console()
err = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_MODEL = 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


@contextmanager
def progress_bar(description: str, *, as_bytes: bool = False, quiet: bool = False) -> Iterator:
    """A rich progress bar on stderr; yields a ``(done, total)`` callback. Silent when ``quiet``."""
    if quiet or not err.is_terminal:
        yield lambda done, total: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn() if as_bytes else MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def open_index(repo: str | None, *, refresh: bool = True, quiet: bool = False) -> Index:
    try:
        index = Index(Path(repo or "."))
    except (IndexError_, IndexBusy) as e:
        raise CliError(str(e)) from None
    if refresh:
        with progress_bar("Indexing", quiet=quiet) as cb:
            index.refresh(cb)
    return index


# -- commands ------------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    index = open_index(args.path, refresh=False, quiet=args.json)
    with progress_bar("Indexing", quiet=args.json) as cb:
        stats = index.refresh(cb)
    data = {"files": stats.files, "symbols": stats.symbols, "languages": stats.languages,
            "seconds": round(stats.seconds, 3), "reparsed": stats.reparsed}
    if args.json:
        print(json.dumps(data | {"removed": stats.removed, "skipped": stats.skipped}))
        return 0
    out.print(f"[bold]{stats.files}[/] files, [bold]{stats.symbols}[/] symbols in {stats.seconds:.2f} s "
              f"({stats.reparsed} parsed, {stats.removed} removed)")
    if stats.skipped:
        out.print("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(stats.skipped.items())))
    table = Table("language", "files")
    for lang, n in stats.languages.items():
        table.add_row(lang, str(n))
    out.print(table)
    top = Ranker(index).top_definitions(args.top)
    if top:
        t = Table("symbol", "kind", "where", title="Top symbols")
        for _, path, d in top:
            t.add_row(d.name, d.kind, f"{path}:{d.start_line}")
        out.print(t)
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    index = open_index(args.repo, quiet=args.json)
    rows = [{"name": d.name, "kind": d.kind, "path": p, "line": d.start_line, "signature": d.signature, "scope": d.scope}
            for p, d in index.symbols(args.name)]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        out.print(f"no definition named {args.name!r}")
    else:
        table = Table("kind", "where", "signature")
        for r in rows:
            table.add_row(r["kind"], f"{r['path']}:{r['line']}", r["signature"])
        out.print(table)
    return 0 if rows or args.json else 1


def cmd_context(args: argparse.Namespace) -> int:
    from codeassist.context import gather_context

    index = open_index(args.repo, quiet=args.json)
    try:
        loc = parse_location(args.location, index)
    except (PositionError, IndexError_) as e:
        raise CliError(str(e)) from None
    ctx = gather_context(index, Ranker(index), loc.path, loc.line, loc.column, budget=args.budget)
    data = {"snippets": [{"path": s.path, "start_line": s.start_line, "end_line": s.end_line,
                          "score": round(s.score, 6), "reason": s.reason} for s in ctx.snippets],
            "tokens": ctx.tokens}
    if args.json:
        print(json.dumps(data))
        return 0
    table = Table("score", "where", "reason", title=f"Context for {loc.path}:{loc.line}:{loc.column + 1} ({ctx.tokens} tokens)")
    for s in ctx.snippets:
        table.add_row(f"{s.score:.4f}", f"{s.path}:{s.start_line}-{s.end_line}", s.reason)
    out.print(table)
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from codeassist import models

    if args.action == "install":
        with progress_bar("Assembling model", as_bytes=True, quiet=args.json) as cb:
            try:
                path = weights.install_default(cb)
            except weights.WeightsError as e:
                raise CliError(str(e), EXIT_MODEL) from None
        with err.status("Converting to a cached checkpoint (once, ~1 min)") if not args.json else _null():
            try:
                directory, _ = models.prepare_checkpoint(models.DEFAULT_MODEL)
            except models.ModelError as e:
                raise CliError(str(e), EXIT_MODEL) from None
        result = {"path": str(path), "sha256": weights.DEFAULT_GGUF_SHA256, "checkpoint": str(directory)}
    elif args.action == "verify":
        path = weights.default_gguf_path()
        with progress_bar("Hashing", as_bytes=True, quiet=args.json) as cb:
            try:
                weights.verify(path, progress=cb)
            except weights.WeightsError as e:
                raise CliError(str(e), EXIT_MODEL) from None
        result = {"path": str(path), "sha256": weights.DEFAULT_GGUF_SHA256, "verified": True}
    else:
        result = _model_info(args.model)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            out.print(f"[bold]{k}[/]: {v}")
    return 0


def _model_info(name: str | None) -> dict:
    from codeassist import models
    from codeassist.formats import detect_format

    try:
        loaded = models.load_model(name)
    except models.ModelError as e:
        raise CliError(str(e), EXIT_MODEL) from None
    fmt = detect_format(loaded.tokenizer)
    return {
        "name": loaded.name, "source": loaded.source, "checkpoint": loaded.info["checkpoint"],
        "sha256": weights.DEFAULT_GGUF_SHA256 if loaded.source == str(weights.default_gguf_path()) else None,
        "native_context": loaded.native_context, "format": fmt.name, "fim": fmt.fim, "repo_level": fmt.repo_level,
        "rope": dict(loaded.model.config.rope_parameters or {}), "load_seconds": round(loaded.load_seconds, 2),
    }


@contextmanager
def _null() -> Iterator[None]:
    yield


def add_backend_flags(s: argparse.ArgumentParser) -> None:
    """--backend and the remote engine's settings (each also read from a CODEASSIST_* variable)."""
    g = s.add_argument_group("backend", "where completions are generated; unset flags fall back to $CODEASSIST_BACKEND, "
                             "$CODEASSIST_ENDPOINT, $CODEASSIST_REMOTE_MODEL, $CODEASSIST_API_KEY, $CODEASSIST_TOKENIZER, "
                             "$CODEASSIST_FALLBACK, $CODEASSIST_TIMEOUT")
    g.add_argument("--backend", choices=["local", "remote"], help="local: the in-process model (default); remote: an "
                   "OpenAI-compatible engine (vLLM, llama.cpp server), where --model names the served model")
    g.add_argument("--endpoint", metavar="URL", help="the remote engine's base URL, e.g. http://127.0.0.1:8080")
    g.add_argument("--tokenizer", help="remote: tokenizer for budgeting (model name, directory, .gguf or cached hub id; "
                   "default: --model, else an estimate)")
    g.add_argument("--fallback", choices=["none", "local"], help="local: the in-process model ($CODEASSIST_MODEL or the "
                   "default) answers while the engine is unavailable")
    g.add_argument("--timeout", type=float, metavar="SECONDS", help="remote: longest silence from the engine (default 30)")


def _open_completion_service(args: argparse.Namespace, index: Index):
    """A CompletionService on the backend the flags and environment choose; CliError when it cannot start."""
    from codeassist.backends import BackendError, BackendOptions, open_backends
    from codeassist.completion import CompletionService
    from codeassist.models import ModelError

    try:
        options = BackendOptions.from_env(backend=args.backend, model=args.model, endpoint=args.endpoint,
                                          tokenizer=args.tokenizer, fallback=args.fallback, timeout_s=args.timeout)
    except BackendError as e:
        raise CliError(str(e)) from None
    try:
        with err.status("Loading model") if err.is_terminal else _null():
            backend, fallback = open_backends(options)
            return CompletionService(index, backend=backend, fallback=fallback)
    except (ModelError, BackendError) as e:
        raise CliError(str(e), EXIT_MODEL) from None


def cmd_complete(args: argparse.Namespace) -> int:
    from codeassist.backends import BackendError
    from codeassist.completion import CompletionRequest

    index = open_index(args.repo, quiet=True)
    service = _open_completion_service(args, index)
    if args.batch:
        return _complete_batch(args, index, service)
    try:
        loc = parse_location(args.location, index)
    except (PositionError, IndexError_) as e:
        raise CliError(str(e)) from None
    req = CompletionRequest(loc.path, loc.line, loc.column, use_context=not args.no_context, max_new_tokens=args.max_new_tokens)
    try:
        result = service.complete(req)
    except BackendError as e:
        raise CliError(str(e), EXIT_MODEL) from None
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        cached = "n/a" if result.cached_tokens is None else result.cached_tokens
        out.print(f"[dim]{result.model} ({result.backend}) · {result.prompt_tokens} prompt tokens ({cached} cached) · "
                  f"{len(result.context_files)} context files · rope {result.rope_scaling} · {result.latency_ms:.0f} ms[/]")
        if result.fallback_reason:
            err.print(f"[yellow]fallback:[/] {result.fallback_reason}", highlight=False)
        out.print(result.completion, markup=False, highlight=False)
    return 0


def _complete_batch(args: argparse.Namespace, index: Index, service) -> int:
    from codeassist.backends import BackendError
    from codeassist.completion import CompletionRequest

    source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
    status = 0
    with source:
        for n, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                loc = parse_location(f"{obj['path']}:{obj['line']}:{obj['column']}", index, text=obj.get("text"))
                req = CompletionRequest(loc.path, loc.line, loc.column, text=obj.get("text"),
                                        use_context=not args.no_context, max_new_tokens=args.max_new_tokens)
                print(json.dumps(service.complete(req).to_json()), flush=True)
            except (ValueError, KeyError, TypeError, PositionError, IndexError_) as e:
                print(json.dumps({"error": f"request {n}: {e}"}), flush=True)
                status = EXIT_BAD_INPUT
            except BackendError as e:
                print(json.dumps({"error": f"request {n}: {e}"}), flush=True)
                status = EXIT_MODEL
    return status


def _show_changes(changes, *, title: str) -> None:
    """A per-file summary and a syntax-highlighted unified diff, on stdout."""
    from rich.syntax import Syntax

    from codeassist.apply import unified_diff

    table = Table("file", "change", "+", "-", title=title)
    for c in changes:
        diff = unified_diff([c]).splitlines()
        plus = sum(1 for l in diff if l.startswith("+") and not l.startswith("+++"))
        minus = sum(1 for l in diff if l.startswith("-") and not l.startswith("---"))
        table.add_row(c.path, c.kind, str(plus), str(minus))
    out.print(table)
    out.print(Syntax(unified_diff(changes), "diff", theme="ansi_dark", background_color="default"))


def _write(args: argparse.Namespace, root: Path, changes, description: str) -> dict:
    """Confirms (unless --yes), writes through the journaled path; returns a JSON-able summary."""
    from codeassist.apply import write_changes
    from codeassist.edits import EditError

    if getattr(args, "output", None):
        from codeassist.apply import unified_diff

        Path(args.output).write_text(unified_diff(changes))
    if args.dry_run or not changes:
        return {"applied": False, "files": [c.path for c in changes]}
    if not getattr(args, "yes", False):
        if not sys.stdin.isatty():
            raise CliError("refusing to apply without confirmation: pass --yes (or --dry-run to only show)")
        if input(f"Apply these changes to {len(changes)} file(s)? [y/N] ").strip().lower() not in ("y", "yes"):
            return {"applied": False, "files": [c.path for c in changes]}
    try:
        journal = write_changes(root, changes, allow_dirty=args.allow_dirty, description=description,
                                commit=getattr(args, "commit", False))
    except EditError as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"writing failed and was rolled back: {e}") from None
    return {"applied": True, "files": [c.path for c in changes], "journal": str(journal)}


def cmd_apply(args: argparse.Namespace) -> int:
    from codeassist.apply import plan_changes
    from codeassist.edits import EditError, parse_edits

    root = Path(args.repo).resolve()
    if not root.is_dir():
        raise CliError(f"{root} is not a directory")
    try:
        text = sys.stdin.read() if args.patchfile == "-" else Path(args.patchfile).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read {args.patchfile}: {e}") from None
    try:
        edits = parse_edits(text)
        if not edits:
            raise CliError("no unified diff or SEARCH/REPLACE blocks found in the input")
        changes = plan_changes(root, edits)
    except EditError as e:
        raise CliError(str(e)) from None
    from codeassist.verify import syntax_regressions

    problems = syntax_regressions(changes)
    if problems and not args.force:
        raise CliError("; ".join(problems) + " (pass --force to apply anyway)")
    if not args.json:
        _show_changes(changes, title=f"Patch from {args.patchfile}")
    result = _write(args, root, changes, f"codeassist apply {args.patchfile}")
    if args.json:
        print(json.dumps(result))
    elif result["applied"]:
        out.print(f"applied to {len(changes)} file(s); undo with: codeassist undo --repo {args.repo}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from codeassist.apply import undo

    try:
        restored = undo(Path(args.repo).resolve())
    except FileNotFoundError as e:
        raise CliError(str(e), 1) from None
    if args.json:
        print(json.dumps({"restored": restored}))
    else:
        out.print("restored: " + ", ".join(restored))
    return 0


def cmd_patch(args: argparse.Namespace) -> int:
    from codeassist.engine import Engine
    from codeassist.models import ModelError, load_model
    from codeassist.patch import propose_patch
    from codeassist.verify import run_check

    index = open_index(args.repo, quiet=args.json)
    try:
        with err.status("Loading model") if err.is_terminal else _null():
            loaded = load_model(args.model)
    except ModelError as e:
        raise CliError(str(e), EXIT_MODEL) from None
    engine = Engine(loaded.model, loaded.tokenizer)
    with err.status("Writing the patch") if err.is_terminal and not args.json else _null():
        proposal = propose_patch(index, loaded, engine, args.instruction, named_files=args.file or [],
                                 max_new_tokens=args.max_new_tokens)
    check = run_check(index.root, proposal.changes, args.check) if args.check and proposal.ok else None
    summary = {"ok": proposal.ok and (check is None or check.passed), "files_shown": proposal.files,
               "attempts": proposal.attempts, "errors": proposal.errors, "seconds": round(proposal.seconds, 1),
               "changes": [{"path": c.path, "kind": c.kind} for c in proposal.changes],
               "check": None if check is None else {"command": check.command, "returncode": check.returncode}}
    if not proposal.ok:
        if args.json:
            print(json.dumps(summary))
        else:
            err.print("[red]no usable patch:[/] " + "; ".join(proposal.errors))
        return 1
    if not args.json:
        _show_changes(proposal.changes, title=f"Proposed patch ({proposal.attempts} attempt(s), {proposal.seconds:.0f} s)")
        if check is not None:
            out.print(f"check `{check.command}`: " + ("[green]passed[/]" if check.passed else f"[red]failed ({check.returncode})[/]\n{check.output}"))
    if check is not None and not check.passed:
        args.dry_run = True  # never apply a patch whose check failed
    summary |= _write(args, index.root, proposal.changes, f"codeassist patch: {args.instruction}")
    if args.json:
        print(json.dumps(summary))
    elif summary.get("applied"):
        out.print(f"applied; undo with: codeassist undo --repo {args.repo}")
    return 0 if summary["ok"] else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from codeassist.completion import CompletionService
    from codeassist.evaluation.cases import extract_cases, read_cases, write_cases
    from codeassist.evaluation.runner import CONDITIONS, Evaluator, results_json, summarize
    from codeassist.models import ModelError

    conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        raise CliError(f"unknown condition(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(CONDITIONS)}")
    index = open_index(args.repo, quiet=args.json)
    kind = "" if args.kind == "crossfile" else f"{args.kind}-"  # crossfile keeps the name its case files had
    cases_file = Path(args.cases_file) if args.cases_file else \
        index.root / ".codeassist" / "eval" / f"cases-{kind}s{args.seed}-n{args.cases}.jsonl"
    if cases_file.exists():
        try:
            cases = read_cases(cases_file)
        except (OSError, ValueError) as e:
            raise CliError(f"cannot read cases: {e}") from None
        source = f"read from {cases_file}"
    else:
        cases = extract_cases(index, cases=args.cases, seed=args.seed, kind=args.kind)
        write_cases(cases, cases_file)
        source = f"written to {cases_file}"
    if not cases:
        raise CliError(f"no cases in {index.root}: it needs Python files that import names from each other")
    try:
        with err.status("Loading model") if err.is_terminal and not args.json else _null():
            service = CompletionService(index, model_name=args.model)
    except ModelError as e:
        raise CliError(str(e), EXIT_MODEL) from None
    evaluator = Evaluator(service, budget=args.budget, max_new_tokens=args.max_new_tokens)
    try:
        with progress_bar(f"Evaluating {len(cases)} cases × {len(conditions)} conditions", quiet=args.json) as cb:
            results = evaluator.run(cases, conditions, score=args.score, progress=cb)
    except (OSError, ValueError) as e:
        raise CliError(str(e)) from None
    summary = summarize(results, conditions, seed=args.seed)
    summary |= {"repo": str(index.root), "cases": len(cases), "cases_file": str(cases_file), "seed": args.seed,
                "mode": "score" if args.score else "generate", "model": service.loaded.name}
    if args.out:
        Path(args.out).write_text(json.dumps(summary | {"results": results_json(results)}, indent=1) + "\n")
    if args.json:
        print(json.dumps(summary))
        return 0
    _show_eval(summary, conditions, source)
    return 0


def _show_eval(summary: dict, conditions: tuple[str, ...], source: str) -> None:
    from codeassist.evaluation.runner import METRICS

    score = summary["mode"] == "score"
    metrics = ["logprob"] if score else list(METRICS)
    out.print(f"[dim]{summary['cases']} cases ({source}) · {summary['model']} · {summary['mode']}[/]")
    t = Table("cases", "condition", *metrics, "ms/case", "prompt tok", "context tok", "n",
              title=f"Completion quality on {Path(summary['repo']).name}")
    for kind, by_cond in summary["conditions"].items():
        for cond in conditions:
            e = by_cond.get(cond)
            if e:
                values = [f"{e[m]:.3f}" if score else f"{100 * e[m]:.1f}" for m in metrics]
                t.add_row(kind, cond, *values, f"{e['latency_ms']:.0f}", f"{e['prompt_tokens']:.0f}",
                          f"{e['context_tokens']:.0f}", str(e["n"]))
    out.print(t)
    d = Table("cases", "difference", *metrics, title="Paired differences, mean [95% bootstrap interval]")
    for kind, pairs in summary["differences"].items():
        for pair, by_metric in pairs.items():
            cells = []
            for m in metrics:
                mean, lo, hi = by_metric[m]
                k = 1 if score else 100
                style = "green" if lo > 0 else "red" if hi < 0 else ""
                cell = f"{k * mean:+.1f} [{k * lo:+.1f}, {k * hi:+.1f}]" if not score else f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                cells.append(f"[{style}]{cell}[/]" if style else cell)
            d.add_row(kind, pair.replace("-", " − "), *cells)
    out.print(d)


# -- parser --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codeassist", description="Local-first repository-scale code assistant.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="build or refresh the repository index")
    s.add_argument("path", nargs="?", default=".", help="repository directory (default: .)")
    s.add_argument("--top", type=int, default=10, help="how many top symbols to show")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("symbols", help="find definitions by name")
    s.add_argument("name")
    s.add_argument("--repo", default=".")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_symbols)

    s = sub.add_parser("context", help="ranked cross-file context for PATH:LINE:COLUMN (1-based)")
    s.add_argument("location")
    s.add_argument("--repo", default=".")
    s.add_argument("--budget", type=int, default=2048, help="context budget in tokens")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_context)

    s = sub.add_parser("model", help="the model: info, install (assemble and verify the default), verify")
    s.add_argument("action", choices=["info", "install", "verify"])
    s.add_argument("--model", help="model: 'default', a .gguf file, a Hugging Face directory or hub id")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_model)

    s = sub.add_parser("complete", help="complete code at PATH:LINE:COLUMN (1-based) with repository context")
    s.add_argument("location", nargs="?")
    s.add_argument("--repo", default=".")
    s.add_argument("--model", help="model: 'default', a .gguf file, a Hugging Face directory or hub id")
    s.add_argument("--batch", metavar="REQUESTS.jsonl", help="one JSON request per line ('-' for stdin)")
    s.add_argument("--no-context", action="store_true", help="use only the current file")
    s.add_argument("--max-new-tokens", type=int, default=64)
    s.add_argument("--json", action="store_true")
    add_backend_flags(s)
    s.set_defaults(func=cmd_complete)

    s = sub.add_parser("eval", help="measure cross-file completion quality on a Python repository (CrossCodeEval-style)")
    s.add_argument("repo", help="repository directory")
    s.add_argument("--cases", type=int, default=100, help="cross-file cases to draw (plus 20%% in-file controls)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--kind", choices=CASE_KINDS, default="crossfile",
                   help="crossfile: the cursor before an imported name; member: before a member of an imported class")
    s.add_argument("--conditions", default="infile,bm25,packed", help="comma-separated: infile, bm25, packed")
    s.add_argument("--cases-file", metavar="FILE", help="cases to reuse, or where to write new ones "
                   "(default: REPO/.codeassist/eval/cases-sSEED-nCASES.jsonl)")
    s.add_argument("--score", action="store_true", help="teacher-forced log-probability of the ground truth instead of generating")
    s.add_argument("--budget", type=int, help="context tokens for bm25 and packed (default: packed gets what bm25 used)")
    s.add_argument("--model", help="model: 'default', a .gguf file, a Hugging Face directory or hub id")
    s.add_argument("--max-new-tokens", type=int, default=48)
    s.add_argument("--out", metavar="FILE", help="write the summary and every case's result as JSON")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("patch", help="propose a multi-file patch for an instruction, show it, apply on request")
    s.add_argument("instruction")
    s.add_argument("--repo", default=".")
    s.add_argument("--file", action="append", help="a file the patch concerns (repeatable)")
    s.add_argument("--model", help="model: 'default', a .gguf file, a Hugging Face directory or hub id")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="only show the patch")
    mode.add_argument("--apply", action="store_true", help="apply after confirmation (the default)")
    s.add_argument("--yes", action="store_true", help="apply without asking")
    s.add_argument("--output", metavar="FILE", help="also write the patch as a git-style unified diff")
    s.add_argument("--check", metavar="COMMAND", help="a command (e.g. the tests) run on a scratch copy with the patch")
    s.add_argument("--allow-dirty", action="store_true", help="modify files with uncommitted changes")
    s.add_argument("--commit", action="store_true", help="git commit the applied patch")
    s.add_argument("--max-new-tokens", type=int, default=512)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_patch)

    s = sub.add_parser("apply", help="apply a unified diff or SEARCH/REPLACE blocks from a file ('-' for stdin)")
    s.add_argument("patchfile")
    s.add_argument("--repo", default=".")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--yes", action="store_true", help="apply without asking (needed when the patch comes on stdin)")
    s.add_argument("--allow-dirty", action="store_true")
    s.add_argument("--force", action="store_true", help="apply even if a file's syntax gets worse")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_apply)

    s = sub.add_parser("undo", help="restore the files the last applied patch changed")
    s.add_argument("--repo", default=".")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_undo)

    # Commands of packages layered above the core (the LSP adapter) register through an entry point,
    # so that the core never imports them.
    for ep in entry_points(group="codeassist.commands"):
        ep.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "command", None) == "complete" and not args.batch and not args.location:
        parser.error("complete needs PATH:LINE:COLUMN or --batch FILE")
    try:
        return args.func(args)
    except CliError as e:
        err.print(f"[red]error:[/] {e}", markup=True, highlight=False)
        return e.code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
