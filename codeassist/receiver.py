"""The class of the receiver before the cursor (``obj.`` or ``obj.par|``) in Python, and its members.

After a dot the model must name a member of the receiver's class: the one piece of context the file's own
text cannot give when the class lives in another file. The class comes from the text before the cursor, by
the rules a reader applies at a glance (no type checker):

- ``Cls.`` where ``Cls`` is a class;
- ``obj.`` where ``obj`` was last bound, earlier in the same function (or an enclosing one, or the module),
  to ``Cls(...)``, or is a parameter or variable annotated ``Cls`` (also ``"Cls"``, ``Optional[Cls]``,
  ``Cls | None``);
- ``self.`` in a method of a class deriving from ``Cls``.

``classes`` maps class names to the names of their members. Lines are 1-based.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from indexer.index import Snapshot
from indexer.parse import Definition
from indexer.rank import Snippet, TokenCounter

Bindings = dict[str, list[tuple[int, "str | None"]]]  # local name -> (1-based line, class or None), by line

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_RECEIVER_RE = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)?$")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def scope_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``scope``'s body, not entering nested functions and classes (those are yielded, not walked)."""
    stack = list(reversed(list(ast.iter_child_nodes(scope))))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def annotation_class(node: ast.AST | None, classes: Mapping[str, frozenset[str]]) -> str | None:
    """The class an annotation names: ``Cls``, ``"Cls"``, ``Optional[Cls]``, ``Cls | None``."""
    if isinstance(node, ast.Name):
        return node.id if node.id in classes else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value.strip()
        return name if name in classes else None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Optional":
        return annotation_class(node.slice, classes)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        if isinstance(node.right, ast.Constant) and node.right.value is None:
            return annotation_class(node.left, classes)
        if isinstance(node.left, ast.Constant) and node.left.value is None:
            return annotation_class(node.right, classes)
    return None


def _bound_class(value: ast.AST | None, classes: Mapping[str, frozenset[str]]) -> str | None:
    """``Cls`` when ``value`` is a call ``Cls(...)`` of a known class."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in classes:
        return value.func.id
    return None


def bindings(scope: ast.AST, classes: Mapping[str, frozenset[str]]) -> Bindings:
    """Each name bound in ``scope`` (not in nested scopes), with the class it is bound to where one is known."""
    out: Bindings = {}

    def bind(target: ast.AST, cls: str | None, line: int) -> None:
        if isinstance(target, ast.Name):
            out.setdefault(target.id, []).append((line, cls))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                bind(t, None, line)

    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = scope.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
            out.setdefault(arg.arg, []).append((0, annotation_class(arg.annotation, classes)))  # bound throughout
    for node in scope_nodes(scope):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                bind(t, _bound_class(node.value, classes), node.end_lineno or node.lineno)
        elif isinstance(node, ast.AnnAssign):
            bind(node.target, annotation_class(node.annotation, classes) or _bound_class(node.value, classes),
                 node.end_lineno or node.lineno)
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
            bind(node.target, None, node.lineno)
        elif isinstance(node, ast.comprehension):
            bind(node.target, None, node.target.lineno)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bind(node.optional_vars, _bound_class(node.context_expr, classes), node.optional_vars.lineno)
        elif isinstance(node, ast.NamedExpr):
            bind(node.target, _bound_class(node.value, classes), node.lineno)
        elif isinstance(node, _SCOPES):
            out.setdefault(node.name, []).append((node.lineno, None))
    for bound in out.values():
        bound.sort(key=lambda b: b[0])
    return out


def own_attributes(cls: ast.ClassDef) -> set[str]:
    """Names a class defines itself: its body's definitions and assignments, and ``self.x = ...`` in its methods."""
    own: set[str] = set()
    for node in cls.body:
        if isinstance(node, _SCOPES):
            own.add(node.name)
        elif isinstance(node, ast.Assign):
            own.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id)
    return own | _self_stores(cls)


def _self_stores(node: ast.AST) -> set[str]:
    """``x`` of each ``self.x = ...`` under ``node``."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name) and n.value.id == "self"}


def known_bases(cls: ast.ClassDef, classes: Mapping[str, frozenset[str]]) -> list[str]:
    return [b.id for b in cls.bases if isinstance(b, ast.Name) and b.id in classes]


def receiver_class(name: str, line: int, scope_bindings: Bindings, classes: Mapping[str, frozenset[str]],
                   self_name: str | None = None, self_base: tuple[str, set[str]] | None = None,
                   attr: str | None = None) -> str | None:
    """The class of ``name`` read at 1-based ``line``: by its last binding before the line, else as a class.

    In a method, ``self_name`` (its first parameter) is of ``self_base``'s class (the first known base, and the
    deriving class's own names) for an ``attr`` the deriving class does not define itself.
    """
    if name == self_name and self_base is not None:
        base, own = self_base
        return base if attr is None or attr not in own else None
    earlier = [cls for at, cls in scope_bindings.get(name, ()) if at < line]
    if earlier:
        return earlier[-1]
    if name in scope_bindings:
        return None  # bound only later in this scope: not the class
    return name if name in classes else None


def receiver_at(prefix: str, classes: Mapping[str, frozenset[str]]) -> tuple[str, str] | None:
    """(receiver name, its class) when ``prefix`` (a file's text up to the cursor) ends in ``name.`` or
    ``name.partial``; None when the cursor is elsewhere or the class is unknown.

    The text before the cursor rarely parses: the receiver is replaced by ``None`` and open brackets and a
    block header are closed, so the rest of the file before the cursor can be read.
    """
    last_nl = prefix.rfind("\n")
    current = prefix[last_nl + 1:]
    m = _RECEIVER_RE.search(current)
    if not m:
        return None
    name, partial = m.group(1), m.group(2) or ""
    head = prefix[: last_nl + 1 + m.start()]
    # Only the innermost function holding the cursor is repaired; what precedes it is complete (given a
    # ``pass`` where the function starts) and parsed once per text, so typing inside a long class stays cheap
    # (tests/bench/RESULTS.md: receiver). When that fails (a string at column 0 can fool the split), the whole
    # text before the cursor is repaired.
    lines = head.split("\n")
    chain: list[ast.AST] = []
    split = _enclosing_def(lines)
    repaired = None
    if split is not None:
        start, indent = split
        outer = _parse_outer("\n".join(lines[:start] + [indent + "pass"]))
        if outer is not None:
            repaired = _parse_repaired("\n".join((["if True:"] if indent else []) + lines[start:]))
            offset = start - (1 if indent else 0)
            chain = _enclosing(outer, start + 1)
    if repaired is None:
        repaired, offset, chain = _parse_repaired(head), 0, []
        if repaired is None:
            return None
    tree, row = repaired
    ast.increment_lineno(tree, offset)
    inner = _enclosing(tree, row + offset)
    chain += inner[1:] if chain else inner  # the module comes from the text before the function
    line = prefix.count("\n") + 1
    scope_bindings: Bindings = {}
    self_name, self_base = None, None
    for i, scope in enumerate(chain):
        if isinstance(scope, ast.ClassDef):
            continue
        scope_bindings = {**scope_bindings, **bindings(scope, classes)}
        if i and isinstance(chain[i - 1], ast.ClassDef) and scope.args.args:
            bases = known_bases(chain[i - 1], classes)
            self_name = scope.args.args[0].arg
            if bases:  # the class may come from the text before this method: the method's names count too
                self_base = (bases[0], own_attributes(chain[i - 1]) | {scope.name} | _self_stores(scope))
            else:
                self_base = None
    cls = receiver_class(name, line, scope_bindings, classes, self_name, self_base, partial or None)
    return (name, cls) if cls is not None else None


def _enclosing_def(lines: list[str]) -> tuple[int, str] | None:
    """(0-based index of the line where the innermost ``def`` holding the last line starts, with its
    decorators; the def's indentation), judged by indentation alone; None outside any def."""
    lowest = None  # the smallest indentation of a code line below the candidate
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].lstrip()
        if not stripped or stripped.startswith(("#", ")", "]", "}")):
            continue
        width = len(lines[i]) - len(stripped)
        if i < len(lines) - 1 and stripped.startswith(("def ", "async def ")) and lowest is not None and width < lowest:
            while i > 0 and lines[i - 1].strip().startswith("@"):
                i -= 1
            return i, lines[i][:width]
        lowest = width if lowest is None else min(lowest, width)
    return None


@functools.lru_cache(maxsize=8)
def _parse_outer(text: str) -> ast.Module | None:
    """The text before the cursor's function (with a ``pass`` in its place), parsed once per text: typing in the
    function keeps it."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _enclosing(tree: ast.Module, line: int) -> list[ast.AST]:
    """The module and the functions and classes around 1-based ``line``, outermost first."""
    chain: list[ast.AST] = [tree]
    while True:
        inner = [n for n in scope_nodes(chain[-1]) if isinstance(n, _SCOPES)
                 and n.lineno <= line <= (n.end_lineno or n.lineno)]
        if not inner:
            return chain
        chain.append(inner[-1])


def _parse_repaired(head: str) -> tuple[ast.Module, int] | None:
    """The module ``head`` begins, made to parse, and the 1-based row standing for the cursor's: the receiver
    becomes ``None`` with its open brackets closed (and a block header given a body), or else the unfinished
    statement becomes ``pass``; an enclosing ``try:`` is given a ``finally``."""
    stack: list[str] = []
    statement_row = 1  # 1-based row where the statement holding the cursor starts
    after_newline = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(head + "None\n").readline):
            if tok.type in (tokenize.NEWLINE, tokenize.DEDENT, tokenize.INDENT):
                after_newline = True
            elif tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER) and after_newline:
                statement_row, after_newline = tok.start[0], False
            if tok.type == tokenize.OP and tok.string in _CLOSERS:
                stack.append(_CLOSERS[tok.string])
            elif tok.type == tokenize.OP and tok.string in ")]}" and stack:
                stack.pop()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # unclosed brackets end the tokens early: the stack holds them
    lines = head.split("\n")
    before = "\n".join(lines[: statement_row - 1])
    stmt_indent = re.match(r"[ \t]*", lines[statement_row - 1] if statement_row <= len(lines) else "").group(0)
    closing = _close_tries(lines[: statement_row - 1], len(stmt_indent))
    closed = head + "None" + "".join(reversed(stack))
    cur_indent = re.match(r"[ \t]*", closed[closed.rfind("\n") + 1:]).group(0)
    row = head.count("\n") + 1
    for text, at in ((closed + "\n" + closing, row), (closed + ":\n" + cur_indent + "    pass\n" + closing, row),
                     (before + "\n" + stmt_indent + "pass\n" + closing, statement_row)):
        try:
            return ast.parse(text), at
        except (SyntaxError, ValueError):
            continue
    return None


def _close_tries(lines: list[str], indent: int) -> str:
    """``finally: pass`` for each ``try:`` that encloses a statement at ``indent`` columns after ``lines``."""
    out = []
    for line in reversed(lines):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        width = len(line) - len(stripped)
        if width < indent:
            if stripped.startswith("try") and stripped[3:].lstrip().startswith(":"):
                out.append(line[:width] + "finally:\n" + line[:width] + "    pass\n")
            indent = width
            if width == 0:
                break
    return "".join(out)


# -- the receiver's class as context --------------------------------------------------------------------------
MAX_SIGNATURE_LINES = 6  # a member's signature is quoted up to the line ending in ":" (or this many lines)
MAX_DECORATORS = 3  # decorator lines quoted above a member's signature


@dataclass(frozen=True)
class ClassInfo:
    path: str
    definition: Definition  # the class
    members: tuple[Definition, ...]  # defined directly in it, in line order


class ClassTable:
    """The Python classes of one on-disk snapshot, by name; ``members`` is what ``receiver_at`` reads."""

    def __init__(self, snap: Snapshot):
        self._references = snap.references
        self._uses: dict[str, int] = {}
        self.by_name: dict[str, list[ClassInfo]] = {}
        for path, defs in snap.definitions.items():
            if snap.languages.get(path) != "python":
                continue
            tops = {d.name: d for d in defs if d.kind == "class" and not d.scope}
            inside: dict[str, list[Definition]] = {}
            for d in defs:
                if d.scope in tops:
                    inside.setdefault(d.scope, []).append(d)
            for name, d in tops.items():
                members = tuple(sorted(inside.get(name, ()), key=lambda m: m.start_line))
                self.by_name.setdefault(name, []).append(ClassInfo(path, d, members))
        self.members: dict[str, frozenset[str]] = {
            name: frozenset(m.name for info in infos for m in info.members) for name, infos in self.by_name.items()
        }

    def uses(self, name: str, path: str, current: Mapping[str, int]) -> int:
        """How many times the repository references ``name``, counting ``path`` by ``current`` (its references
        now, e.g. in an unsaved buffer) instead of by its text on disk."""
        if name not in self._uses:
            self._uses[name] = sum(refs.get(name, 0) for refs in self._references.values())
        return self._uses[name] - self._references.get(path, {}).get(name, 0) + current.get(name, 0)

    def pick(self, name: str, current: str, imported: list[str]) -> ClassInfo | None:
        """The definition of class ``name`` the current file means: one in a file it imports, else the only other
        one; None when only the current file defines it, or several other files do and none is imported."""
        others = [i for i in self.by_name.get(name, ()) if i.path != current]
        preferred = [i for i in others if i.path in imported]
        if preferred:
            return preferred[0]
        return others[0] if len(others) == 1 else None


def member_outline(info: ClassInfo, lines: list[str], partial: str, budget: int, count_tokens: TokenCounter,
                   uses: Callable[[str], int] = lambda name: 0) -> tuple[str, int] | None:
    """The class's first line and its members' signatures in source order, within ``budget`` tokens; members
    starting with ``partial`` are taken first, then public ones, the most used (``uses``) first. (text, tokens),
    or None when not even the class line and one member fit. ``lines`` is the defining file's text split on
    "\\n"."""
    def quote(d: Definition) -> str:
        first = d.start_line
        while first > 1 and d.start_line - first < MAX_DECORATORS and lines[first - 2].lstrip().startswith("@"):
            first -= 1  # ``@property`` says the member is read without a call
        out = lines[first - 1 : d.start_line - 1]
        for n in range(d.start_line, min(d.start_line + MAX_SIGNATURE_LINES, len(lines) + 1)):
            out.append(lines[n - 1])
            if d.kind not in ("method", "function", "class") or lines[n - 1].split("#", 1)[0].rstrip().endswith(":"):
                break
        return "\n".join(out)

    if not 0 < info.definition.start_line <= len(lines):
        return None
    head = quote(info.definition)
    used = count_tokens(head) + 1
    candidates = sorted((m for m in info.members if 0 < m.start_line <= len(lines)),
                        key=lambda m: (not m.name.startswith(partial), m.name.startswith("_"), -uses(m.name),
                                       m.start_line))
    chosen: list[tuple[int, str]] = []
    for m in candidates:
        text = quote(m)
        tokens = count_tokens(text) + 1
        if used + tokens <= budget:
            chosen.append((m.start_line, text))
            used += tokens
    if not chosen:
        return None
    return "\n".join([head] + [text for _, text in sorted(chosen)]), used


def receiver_snippet(classes: Callable[[], ClassTable], path: str, text_before: str, snap: Snapshot,
                     read_lines: Callable[[str], list[str]], budget: int, count_tokens: TokenCounter) -> Snippet | None:
    """The members of the receiver's class when the cursor (the end of ``text_before``) follows ``name.``, as a
    snippet of at most ``budget`` tokens from the class's file; None elsewhere, or when the class is unknown or
    defined in ``path`` itself. ``classes`` gives the table (only called after a dot); ``snap`` is the index as
    it is now (``path``'s imports and references)."""
    m = _RECEIVER_RE.search(text_before[text_before.rfind("\n") + 1:])
    if not m:
        return None
    table = classes()
    found = receiver_at(text_before, table.members)
    if found is None:
        return None
    name, cls = found
    info = table.pick(cls, path, snap.imports.get(path, []))
    if info is None:
        return None
    try:
        lines = read_lines(info.path)
    except OSError:
        return None
    current = snap.references.get(path, {})
    outline = member_outline(info, lines, m.group(2) or "", budget, count_tokens,
                             lambda member: table.uses(member, path, current))
    if outline is None:
        return None
    text, tokens = outline
    d = info.definition
    return Snippet(info.path, d.start_line, d.end_line, text, 1.0, f"members of {cls} ({name}.)", tokens)
