"""Parsing one file's bytes into definitions, references and raw imports with a tags query.

Capture names used by the query files in ``indexer/queries`` (``*.tags.scm`` run as matches, ``*.refs.scm`` as captures, which is ~2x cheaper
per node):

- ``@definition.KIND`` on the whole definition node and ``@name`` on its name node (KIND: class,
  function, method, variable, constant, field, type, interface, enum, struct, module, macro, impl);
- ``@reference`` on identifier nodes: every name the file uses, counted per file;
- ``@import.module`` (a module spec as written), ``@import.from`` with ``@import.name`` (Python's
  ``from X import Y``): resolved to repository files later, by ``indexer.imports``.

Lines are 1-based and inclusive; columns are 0-based byte offsets within the line.
"""

from __future__ import annotations

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
    """One definition; a NamedTuple so that worker processes pickle it cheaply."""

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
    """Runs the language's tags query over ``source`` (bytes, any encoding; UTF-8 assumed for names)."""
    tree = languages.parser(language).parse(source)
    root = tree.root_node
    result = ParsedFile(language=language, errors=_count_errors(root) if root.has_error else 0)
    raw_defs: list[tuple[int, int, str, str, int, int, int, int]] = []
    imports: list[str] = []
    # counted as bytes in C (Counter over map), then long names dropped per distinct name, not per node
    refs = Counter(map(_node_text, tree_sitter.QueryCursor(languages.query(language, "refs")).captures(root).get("reference", ())))
    for _, caps in tree_sitter.QueryCursor(languages.query(language, "tags")).matches(root):
        if "name" in caps:
            name_node = caps["name"][0]
            for key, nodes in caps.items():
                if key.startswith("definition."):
                    node = nodes[0]
                    end_row, end_col = node.end_point
                    if end_col == 0 and end_row > node.start_point[0]:
                        end_row -= 1  # nodes that swallow their newline (C macros) end on the line before
                    raw_defs.append(
                        (node.start_byte, node.end_byte, _text(name_node), key[11:],
                         node.start_point[0], end_row, node.start_point[1], name_node.start_byte)
                    )
                    break
        elif "import.module" in caps:
            imports.append(_text(caps["import.module"][0]))
        elif "import.from" in caps:
            module = _text(caps["import.from"][0])
            names = caps.get("import.name") or ()
            imports.extend(f"{module}|{_text(n)}" for n in names) if names else imports.append(f"{module}|*")
    result.references = {_decode(k): v for k, v in refs.items() if len(k) <= MAX_NAME_BYTES}
    result.imports = list(dict.fromkeys(imports))
    result.definitions = _with_scopes(raw_defs, source)
    return result


def _with_scopes(raw_defs, source: bytes) -> list[Definition]:
    """Orders definitions by position and names each one's enclosing definitions (innermost last)."""
    raw_defs.sort(key=lambda d: (d[0], -d[1]))
    out: list[Definition] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, name, kind) of open enclosing definitions
    for start, end, name, kind, srow, erow, scol, name_byte in raw_defs:
        while stack and stack[-1][0] <= start:
            stack.pop()
        if kind == "function" and stack and stack[-1][2] in ("class", "interface", "struct", "impl"):
            kind = "method"
        line_end = source.find(b"\n", name_byte)  # the name's line: past annotations (rows count "\n" only)
        line = source[source.rfind(b"\n", 0, name_byte) + 1:line_end if line_end >= 0 else len(source)]
        signature = _decode(line).strip().lstrip("\ufeff")[:SIGNATURE_MAX_CHARS]
        scope = ".".join(s[1] for s in stack)
        out.append(Definition(name, kind, srow + 1, erow + 1, scol, signature, scope))
        stack.append((end, name, kind))
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
