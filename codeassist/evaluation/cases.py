"""Evaluation cases from a Python repository: lines that use a name defined in another of its files.

As CrossCodeEval does, a case is a line whose first use of a repository-internal cross-file name comes
after the imports: the cursor goes right before that name and the ground truth is the rest of the line.
Cross-file names are the names a file imports from repository files (``from .mod import name``, resolved
by the indexer's ``ImportResolver``) and the attributes of imported repository modules
(``import pkg.mod as m`` ... ``m.name``). Member cases (``kind == "member"``, ``codeassist.evaluation.members``)
put the cursor before a member of an imported repository class instead: the reads CrossCodeEval finds by
emptying the imported classes, which the file's own text cannot answer. Control cases (``kind == "infile"``)
do the same for names the file defines itself, on lines that use no cross-file name.

Cases are plain JSON lines (``write_cases``/``read_cases``) so that a run can be repeated exactly.
Lines are 1-based, columns 0-based in code points.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import random
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

from codeassist.evaluation.members import member_uses
from codeassist.receiver import ClassTable
from indexer.imports import ImportResolver
from indexer.index import Index

MAX_CASES_PER_FILE = 5  # as in CrossCodeEval: no file dominates the set
MAX_CONTROLS_PER_FILE = 1
MIN_TARGET_CHARS = 4  # a ground truth shorter than this (e.g. "x)") measures nothing
MIN_PREFIX_LINES = 3  # the cursor needs some in-file context above it
CONTROL_SHARE = 0.2  # in-file control cases, as a share of the requested number of cases
CASE_KINDS = ("crossfile", "member")  # what extract_cases can draw, besides the in-file controls


@dataclass(frozen=True)
class Case:
    path: str  # repository-relative, "/"-separated
    line: int  # 1-based
    column: int  # 0-based code points: the cursor stands before the character at this column
    target: str  # the ground truth: the rest of the line from the cursor, trailing whitespace removed
    kind: str  # "crossfile" | "member" | "infile"
    name: str  # the identifier at the cursor
    defined_in: tuple[str, ...]  # repository files that define ``name`` (its class, for "member"; the target
    # file for "infile")

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.column + 1}"

    def prefix(self, text: str) -> str:
        """The file's text before the cursor: everything the model may see of the target file."""
        lines = text.split("\n")
        return "\n".join(lines[: self.line - 1] + [lines[self.line - 1][: self.column]])


def _import_spans(tree: ast.Module) -> set[int]:
    """1-based lines covered by import statements."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def cross_file_names(path: str, tree: ast.Module, resolver: ImportResolver, definers: dict[str, set[str]]
                     ) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(imported names -> defining files, module aliases -> module files) for repository-internal imports.

    An imported name counts only when a resolved file really defines it (per the index), so that
    re-exports through ``__init__`` files still count and third-party imports never do.
    """
    names: dict[str, tuple[str, ...]] = {}
    modules: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    continue
                files = [f for f in resolver.resolve(path, "python", f"{module}|{alias.name}") if f != path]
                if not files:
                    continue
                local = alias.asname or alias.name
                defining = tuple(sorted(definers.get(alias.name, set()) - {path}))
                if any(f.endswith((f"/{alias.name}.py", f"/{alias.name}/__init__.py")) for f in files):
                    modules[local] = tuple(files)  # ``from pkg import mod``: a module alias
                elif defining:
                    names[local] = defining
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is None and "." in alias.name:
                    continue  # ``import a.b.c`` is used as ``a.b.c.x``: too deep to place a cursor well
                files = [f for f in resolver.resolve(path, "python", alias.name) if f != path]
                if files:
                    modules[alias.asname or alias.name] = tuple(files)
    return names, modules


def _own_names(tree: ast.Module) -> dict[str, int]:
    """Top-level functions and classes of the file -> 1-based line of their definition."""
    return {n.name: n.lineno for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _name_tokens(text: str) -> list[tokenize.TokenInfo]:
    """NAME and OP tokens of ``text`` (strings and comments are single tokens, so never searched)."""
    toks: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NAME, tokenize.OP):
                toks.append(tok)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return toks


def file_cases(path: str, text: str, resolver: ImportResolver, definers: dict[str, set[str]],
               classes: ClassTable | None = None) -> dict[str, list[Case]]:
    """Candidate cases of one file by kind ("crossfile", "member", "infile"), at most one per line and kind, in
    line order. Controls avoid every line that has a cross-file or member case."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {"crossfile": [], "member": [], "infile": []}
    names, modules = cross_file_names(path, tree, resolver, definers)
    own = _own_names(tree)
    skip = _import_spans(tree)
    lines = text.split("\n")
    toks = _name_tokens(text)
    first_cross: dict[int, Case] = {}
    first_own: dict[int, Case] = {}
    for i, tok in enumerate(toks):
        (row, col), name = tok.start, tok.string
        if tok.type != tokenize.NAME or row in skip or row <= MIN_PREFIX_LINES or keyword.iskeyword(name):
            continue
        prev = toks[i - 1].string if i else ""
        if prev in (".", "def", "class"):
            continue  # an attribute of something else, or a definition's own name
        if tok.end[0] != row:
            continue
        case: Case | None = None
        if name in names:
            case = Case(path, row, col, "", "crossfile", name, names[name])
        elif name in modules and i + 2 < len(toks) and toks[i + 1].string == "." and toks[i + 2].type == tokenize.NAME:
            attr = toks[i + 2]
            defining = tuple(sorted(f for f in modules[name] if f in definers.get(attr.string, ())))
            if defining and attr.start[0] == row:
                case = Case(path, row, attr.start[1], "", "crossfile", attr.string, defining)
        if case is not None:
            first_cross.setdefault(row, case)
        elif name in own and own[name] < row and name not in names:
            first_own.setdefault(row, Case(path, row, col, "", "infile", name, (path,)))
    first_member: dict[int, Case] = {}
    imported = _imported_classes(names, classes)
    for use in member_uses(tree, lines, {local: m for local, (_, m) in imported.items()}):
        if use.line not in skip and use.line > MIN_PREFIX_LINES:
            first_member.setdefault(use.line, Case(path, use.line, use.column, "", "member", use.attr,
                                                   imported[use.cls][0]))

    def finish(c: Case) -> Case | None:
        line = lines[c.line - 1]
        target = line[c.column:].rstrip()  # tokenize's columns count code points, as Case's do
        if len(target) < MIN_TARGET_CHARS or line.lstrip().startswith(("#", "@")):
            return None
        return Case(c.path, c.line, c.column, target, c.kind, c.name, c.defined_in)
    busy = set(first_cross) | set(first_member)
    return {
        "crossfile": [c for c in (finish(first_cross[r]) for r in sorted(first_cross)) if c],
        "member": [c for c in (finish(first_member[r]) for r in sorted(first_member)) if c],
        "infile": [c for c in (finish(first_own[r]) for r in sorted(first_own) if r not in busy) if c],
    }


def _imported_classes(names: dict[str, tuple[str, ...]], table: ClassTable | None
                      ) -> dict[str, tuple[tuple[str, ...], frozenset[str]]]:
    """Imported names that are repository classes -> (the files defining them, the union of their members)."""
    out = {}
    for local, files in names.items():
        found = [i for i in (table.by_name.get(local, ()) if table else ()) if i.path in files]
        if found:
            out[local] = (tuple(i.path for i in found), frozenset(m.name for i in found for m in i.members))
    return out


def extract_cases(index: Index, *, cases: int, seed: int, control_share: float = CONTROL_SHARE,
                  kind: str = "crossfile") -> list[Case]:
    """Up to ``cases`` cases of ``kind`` (one of ``CASE_KINDS``) plus ``control_share`` as many in-file controls,
    deterministic in ``seed``.

    Per file at most ``MAX_CASES_PER_FILE`` cases and ``MAX_CONTROLS_PER_FILE`` controls are drawn; files and
    lines are chosen with ``random.Random(seed)``. Returned sorted by path and line.
    """
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown case kind {kind!r} (choose from {', '.join(CASE_KINDS)})")
    snap = index.snapshot()
    definers: dict[str, set[str]] = {}
    for p, defs in snap.definitions.items():
        for d in defs:
            if not d.scope:
                definers.setdefault(d.name, set()).add(p)
    classes = ClassTable(index.disk_snapshot()) if kind == "member" else None
    resolver = ImportResolver(list(snap.languages), index.root)
    pool: list[Case] = []
    control_pool: list[Case] = []
    for path in sorted(p for p, lang in snap.languages.items() if lang == "python"):
        try:
            text = index.read_text(path)
        except OSError:
            continue
        found = file_cases(path, text, resolver, definers, classes)
        rng = random.Random(f"{seed}:{path}")
        pool.extend(rng.sample(found[kind], min(MAX_CASES_PER_FILE, len(found[kind]))))
        control_pool.extend(rng.sample(found["infile"], min(MAX_CONTROLS_PER_FILE, len(found["infile"]))))
    rng = random.Random(seed)
    picked = rng.sample(pool, min(cases, len(pool)))
    n_control = min(len(control_pool), round(cases * control_share))
    picked += rng.sample(control_pool, n_control)
    return sorted(picked, key=lambda c: (c.path, c.line))


def write_cases(cases: list[Case], path: Path) -> None:
    """One JSON object per line; the file can be read back with ``read_cases``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_cases(path: Path) -> list[Case]:
    """Cases written by ``write_cases``; raises ValueError naming the bad line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                out.append(Case(obj["path"], int(obj["line"]), int(obj["column"]), obj["target"], obj["kind"],
                                obj["name"], tuple(obj["defined_in"])))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a case ({e})") from None
    return out
