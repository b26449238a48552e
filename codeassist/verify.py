"""Checking a planned patch before anyone sees it: syntax with tree-sitter, and an optional command.

The command (for example the test suite) runs in a scratch copy of the repository with the patch
applied, so the working tree is never touched by a patch that has not been accepted.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codeassist.apply import FileChange
from indexer.languages import language_for_path
from indexer.parse import parse_source

CHECK_OUTPUT_CHARS = 4000  # of a check command's output kept for the report (its tail)
SCRATCH_IGNORE = shutil.ignore_patterns(".codeassist", "node_modules", "__pycache__", ".venv", "venv")


@dataclass
class CheckResult:
    command: str
    returncode: int
    output: str  # tail of stdout and stderr together

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def parse_errors(path: str, data: bytes | None) -> int:
    """Tree-sitter error nodes in ``data`` (0 for unknown languages and deleted files)."""
    lang = language_for_path(path)
    if data is None or lang is None:
        return 0
    return parse_source(data, lang.name).errors


def syntax_regressions(changes: list[FileChange]) -> list[str]:
    """Messages for files whose new text has more tree-sitter error nodes than the old one."""
    problems = []
    for c in changes:
        before, after = parse_errors(c.path, c.old), parse_errors(c.path, c.new)
        if after > before:
            problems.append(f"{c.path}: the edit breaks the syntax ({after} parse errors, {before} before)")
        elif c.path.endswith(".py") and c.new is not None:
            new_error = python_syntax_error(c.new)
            if new_error and (c.old is None or python_syntax_error(c.old) is None):
                problems.append(f"{c.path}: the edit breaks the syntax ({new_error})")
    return problems


def python_syntax_error(data: bytes) -> str | None:
    """CPython's own verdict, which catches what tree-sitter's error recovery accepts (a ``def`` with
    no body, an ``import`` in an expression); None when ``data`` compiles."""
    try:
        compile(data, "<patch>", "exec", dont_inherit=True)
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    except ValueError as e:  # NUL bytes
        return str(e)
    except (RecursionError, MemoryError):  # pathological nesting from a model: not code anyone can read
        return "too deeply nested to compile"
    return None


def run_check(root: Path, changes: list[FileChange], command: str, *, timeout: float = 600) -> CheckResult:
    """Runs ``command`` (a shell command line) in a scratch copy of ``root`` with ``changes`` applied."""
    with tempfile.TemporaryDirectory(prefix="codeassist-check-") as tmp:
        scratch = Path(tmp) / root.name
        shutil.copytree(root, scratch, symlinks=True, ignore=SCRATCH_IGNORE)
        for c in changes:
            target = scratch / c.path
            if c.new is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(c.new)
        try:
            res = subprocess.run(command, shell=True, cwd=scratch, capture_output=True, text=True, timeout=timeout)
            output, code = (res.stdout + res.stderr), res.returncode
        except subprocess.TimeoutExpired as e:
            partial = "".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in (e.stdout, e.stderr) if x)
            output, code = f"{partial}\n[timed out after {timeout:.0f} s]", 124
    return CheckResult(command, code, output[-CHECK_OUTPUT_CHARS:])
