"""Parsing one file's bytes into definitions, references and raw imports with a tags query.

The query files in ``indexer/queries`` (``*.tags.scm``, ``*.refs.scm``) run as one query in one captures
pass over the tree (``languages.index_query``); a captures pass costs about a third less than a refs
captures pass plus a tags matches pass, and the tags matches are paired back from the captures. Capture names:

- ``@definition.KIND`` on the whole definition node and ``@name`` on its name node (KIND: class,
  function, method, variable, constant, field, type, interface, enum, struct, module, macro, impl);
  optionally ``@scope`` on a node naming the definition's owner outside its nesting (Go's receiver type,
  C++'s ``Circle::`` of an out-of-class method); a pattern with a scope wins over one without for the same node;
- ``@reference`` on identifier nodes: every name the file uses, counted per file;
- ``@import.module`` (a module spec as written), ``@import.from`` with ``@import.name`` (Python's
  ``from X import Y``): resolved to repository files later, by ``indexer.imports``.

Lines are 1-based and inclusive; columns are 0-based byte offsets within the line.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

import tree_sitter

from indexer import languages

SIGNATURE_MAX_CHARS = 200  # a definition's signature is its first line, cut to this many characters
MAX_NAME_BYTES = 128  # longer identifiers are noise (generated code, data) and are not stored

_node_text = attrgetter("text")


class Definition(NamedTuple):
    """One definition; a NamedTuple, so ``tuple(d)`` is its row in the store (``store.FileRows``)."""

    name: str
    kind: str
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start_col: int  # 0-based byte column of the definition's first character
    signature: str  # the line holding the definition's name, stripped
    scope: str  # dotted names of the enclosing definitions ("" at top level)


@dataclass
class ParsedFile:
    language: str
    definitions: list[Definition] = field(default_factory=list)
    references: dict[str, int] = field(default_factory=dict)  # name -> occurrences in the file
    imports: list[str] = field(default_factory=list)  # raw specs; "from|name" for Python from-imports
    errors: int = 0  # tree-sitter ERROR/MISSING nodes: the file parsed only partly


def parse_source(source: bytes, language: str) -> ParsedFile:
    """Runs the language's refs and tags queries over ``source`` (bytes, any encoding; UTF-8 assumed for names)."""
    tree = languages.parser(language).parse(source)
    root = tree.root_node
    result = ParsedFile(language=language, errors=_count_errors(root) if root.has_error else 0)
    # one pass over the tree for references and tags: ~1/3 less query time than a refs pass plus a tags pass
    captures = tree_sitter.QueryCursor(languages.index_query(language)).captures(root)
    # counted as bytes in C (Counter over map), then long names dropped per distinct name, not per node
    refs = Counter(map(_node_text, captures.pop("reference", ())))
    patterns: dict[str, dict[str, list[tree_sitter.Node]]] = {}  # tags pattern index -> capture -> nodes
    for key, nodes in captures.items():
        capture, _, pattern = key.rpartition(".")
        patterns.setdefault(pattern, {})[capture] = nodes
    raw_defs: list[tuple[int, int, int, str, str, int, int, int]] = []
    imports: list[tuple[int, str]] = []  # (start byte of the match's last capture, spec)
    for caps in patterns.values():
        if "name" in caps:
            kind = next((k[11:] for k in caps if k.startswith("definition.")), None)
            if kind is not None:
                raw_defs.extend(_definitions(caps[f"definition.{kind}"], caps["name"], kind, caps.get("scope", ())))
        elif "import.module" in caps:
            imports.extend((n.start_byte, _text(n)) for n in caps["import.module"])
        elif "import.name" in caps:
            imports.extend(_from_imports(caps["import.from"], caps["import.name"]))
        elif "import.from" in caps:
            imports.extend((n.start_byte, f"{_text(n)}|*") for n in caps["import.from"])
    result.references = {_decode(k): v for k, v in refs.items() if len(k) <= MAX_NAME_BYTES}
    imports.sort(key=_first)
    result.imports = list(dict.fromkeys(spec for _, spec in imports))
    result.definitions = _with_scopes(raw_defs, source)
    return result


def _definitions(defs: list, names: list, kind: str, scopes: list = ()):
    """Pairs one tags pattern's definition and name captures back into matches: (start byte, end byte,
    name start byte, name, kind, start row, end row, start column, explicit scope) per name, rows and column
    0-based; the explicit scope is the text of the pattern's ``@scope`` nodes inside the definition before the
    name, joined by "::" ("" when none).

    A pattern reaches its name through a fixed path of child nodes, so a name's definition is the innermost
    of the pattern's definitions that contains it; one definition may hold several names (``var a, b int``).
    """
    defs = sorted(defs, key=_span)
    scopes = sorted(scopes, key=_start)
    scope_starts = [s.start_byte for s in scopes]
    stack: list = []  # definitions starting at or before the current name, outermost first
    j = 0
    for name in sorted(names, key=_start):
        start, end = name.start_byte, name.end_byte
        while j < len(defs) and defs[j].start_byte <= start:
            stack.append(defs[j])
            j += 1
        while stack and stack[-1].end_byte < end:
            stack.pop()  # disjoint from this name, so from every later one too
        if not stack:
            continue
        node = stack[-1]
        (start_row, start_col), (end_row, end_col) = node.start_point, node.end_point
        if end_col == 0 and end_row > start_row:
            end_row -= 1  # nodes that swallow their newline (C macros) end on the line before
        owner = "::".join(map(_text, scopes[bisect_left(scope_starts, node.start_byte):bisect_left(scope_starts, start)]))
        yield node.start_byte, node.end_byte, start, _text(name), kind, start_row, end_row, start_col, owner


def _from_imports(modules: list, names: list):
    """Pairs ``from M import a, b`` captures: each name with the nearest module before it -> (start byte, "M|a")."""
    modules = sorted(modules, key=_start)
    j = -1
    for name in sorted(names, key=_start):
        while j + 1 < len(modules) and modules[j + 1].start_byte < name.start_byte:
            j += 1
        if j >= 0:
            yield name.start_byte, f"{_text(modules[j])}|{_text(name)}"


def _start(node) -> int:
    return node.start_byte


def _span(node) -> tuple[int, int]:
    return node.start_byte, -node.end_byte


def _first(item: tuple):
    return item[0]


def _with_scopes(raw_defs, source: bytes) -> list[Definition]:
    """Orders definitions by position and names each one's enclosing definitions (innermost last).

    An explicit scope (Go's receiver type, C++'s ``Circle::``) is appended to the enclosing ones; when two
    patterns matched the same definition, the one with an explicit scope is kept.
    """
    raw_defs.sort(key=lambda d: (d[0], -d[1], d[2], d[4], d[8] == ""))
    out: list[Definition] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, dotted name, kind) of open enclosing definitions
    last = None
    for start, end, name_byte, name, kind, srow, erow, scol, owner in raw_defs:
        if (start, end, name_byte, kind) == last:
            continue  # the same definition through a less specific pattern
        last = (start, end, name_byte, kind)
        while stack and stack[-1][0] <= start:
            stack.pop()
        if kind == "function" and stack and stack[-1][2] in ("class", "interface", "struct", "impl"):
            kind = "method"
        line_end = source.find(b"\n", name_byte)  # the name's line: past annotations (rows count "\n" only)
        line = source[source.rfind(b"\n", 0, name_byte) + 1:line_end if line_end >= 0 else len(source)]
        signature = _decode(line).strip().lstrip("\ufeff")[:SIGNATURE_MAX_CHARS]
        owner = owner.replace("::", ".")
        scope = ".".join([s[1] for s in stack] + ([owner] if owner else []))
        out.append(Definition(name, kind, srow + 1, erow + 1, scol, signature, scope))
        stack.append((end, f"{owner}.{name}" if owner else name, kind))
    return out


def _count_errors(node) -> int:
    """Counts ERROR and MISSING nodes, descending only into subtrees that contain errors."""
    count = 0
    cursor = [node]
    while cursor:
        n = cursor.pop()
        if n.is_error or n.is_missing:
            count += 1
        cursor.extend(c for c in n.children if c.has_error or c.is_missing)
    return count


def _text(node) -> str:
    return _decode(node.text)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
