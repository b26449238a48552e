"""Imports a completion needs: repository symbols it uses that the document neither defines nor imports.

``missing_imports`` reads the identifiers a completion introduces (the word before the cursor joined
with the completion; attribute accesses, assignments, keywords and names the document's code already
uses as identifiers are left out: comments and strings do not count), finds each one's unique top-level definition in another repository file of
the same language family, and returns the import statements to insert: Python ``from pkg.mod import
name`` (the module named through the package chain of ``__init__.py`` files), JavaScript/TypeScript
``import { name } from './rel'`` (exported definitions only). Other languages get none. A module the
document already imports names from (``from pkg.mod import a``, ``import { a } from './rel'``) gets the new
names appended to that statement; other statements go after the document's last top-level import, else
after its leading comments and docstring.
"""

from __future__ import annotations

import keyword
import posixpath
import re
from dataclasses import dataclass

import tree_sitter

from indexer import languages
from indexer.index import Index
from indexer.languages import language_for_path
from indexer.parse import parse_source

IDENT_RE = re.compile(r"[A-Za-z_$][\w$]*")
WORD_BEFORE_RE = re.compile(r"[A-Za-z_$][\w$]*$")
STRING_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`[^`]*`")
JS_FAMILY = ("javascript", "typescript", "tsx")
IMPORTABLE_KINDS = frozenset({"function", "class", "variable", "constant", "interface", "type", "enum"})
JS_KEYWORDS = frozenset(
    "await break case catch class const continue debugger default delete do else export extends false finally for "
    "function if import in instanceof let new null return super switch this throw true try typeof undefined var "
    "void while with yield async of static get set".split())
IMPORT_NODES = {
    "python": ("import_statement", "import_from_statement", "future_import_statement"),
    "javascript": ("import_statement",), "typescript": ("import_statement",), "tsx": ("import_statement",),
}


@dataclass(frozen=True)
class ImportEdit:
    """Text to insert into the document: one import statement per source file, ending with a newline."""

    line: int  # 0-based line of the insertion point
    column: int  # 0-based code points (0 except at the end of a last line without a newline)
    text: str
    names: tuple[str, ...]  # the imported names, in the order the completion uses them


# ``for x in``, ``lambda x:``, ``as x``, ``(const|let|var) x`` (one name each; tuples are rare in a completion)
BOUND_RE = re.compile(r"\b(?:for|lambda|as|const|let|var)\s+([A-Za-z_$][\w$]*)")


def introduced_names(line_prefix: str, completion: str, language: str) -> list[str]:
    """Identifiers the completion brings in, in order: not attributes, keywords, strings or assigned names."""
    word = WORD_BEFORE_RE.search(line_prefix)
    attribute_start = line_prefix[: word.start() if word else len(line_prefix)].rstrip().endswith(".")
    code = STRING_RE.sub('""', (word.group(0) if word else "") + completion)
    reserved = set(keyword.kwlist) | {"self", "cls", "True", "False", "None"} if language == "python" else JS_KEYWORDS
    bound = set(BOUND_RE.findall(code))  # loop, comprehension, lambda and ``as`` names the completion binds itself
    names = []
    for m in IDENT_RE.finditer(code):
        name = m.group(0)
        before = code[: m.start()].rstrip()
        after = code[m.end():].lstrip()
        if (m.start() == 0 and attribute_start) or before.endswith(".") or name in reserved or name in bound:
            continue
        if re.match(r"=(?!=)|:=", after) or (language != "python" and re.match(r":(?!:)", after)):
            continue  # assigned, a keyword argument, an object key
        if name not in names:
            names.append(name)
    return names


def python_module(paths: set[str], target: str) -> str:
    """The dotted module of a repository Python file: its chain of packages (``__init__.py``) and its stem."""
    parts = target.rsplit(".", 1)[0].split("/")
    dirs, stem = parts[:-1], parts[-1]
    k = len(dirs)
    while k > 0 and "/".join(dirs[:k]) + "/__init__.py" in paths:
        k -= 1
    return ".".join(dirs[k:] + ([] if stem == "__init__" else [stem]))


def js_specifier(importer: str, target: str) -> str:
    """A relative module specifier from ``importer`` to ``target``, without the extension: ``./rel``."""
    rel = posixpath.relpath(target, posixpath.dirname(importer) or ".")
    rel = re.sub(r"(\.d)?\.(ts|tsx|js|jsx|mjs|cjs|mts|cts)$", "", rel)
    rel = re.sub(r"(^|/)index$", r"\1", rel).rstrip("/") or "."
    return rel if rel.startswith(".") else "./" + rel


def _parse(text: str, language: str) -> tuple[bytes, tree_sitter.Tree]:
    data = text.encode("utf-8", errors="surrogatepass")
    return data, languages.parser(language).parse(data)


def insertion_point(text: str, language: str, tree: tree_sitter.Tree | None = None) -> tuple[int, int, bool]:
    """(0-based line, column, needs a leading newline) after the last top-level import.

    Without imports: after leading comments and a docstring (or ``"use strict"``), else at the top.
    ``tree`` is ``text`` already parsed, if the caller has it.
    """
    tree = tree or _parse(text, language)[1]
    children = tree.root_node.children
    imports = [n for n in children if n.type in IMPORT_NODES[language]]
    if imports:
        row = imports[-1].end_point[0] + 1
    else:
        row = 0
        for n in children:
            is_doc = n.type == "expression_statement" and n.named_child_count == 1 and n.named_children[0].type == "string"
            if n.type == "comment" or (is_doc and n.start_point[0] <= row + 1):
                row = n.end_point[0] + 1
                continue
            break
    lines = text.split("\n")
    if row >= len(lines):  # the last line has no newline: insert at its end, after one
        return len(lines) - 1, len(lines[-1]), True
    return row, 0, False


def _exported(index: Index, path: str, name: str, signature: str) -> bool:
    if signature.startswith("export"):
        return True
    return re.search(rf"export\s*{{[^}}]*(?<![\w$]){re.escape(name)}(?![\w$])", index.read_text(path)) is not None


def missing_imports(index: Index, path: str, text: str, line: int, column: int, completion: str) -> list[ImportEdit]:
    """The imports to add to ``path`` (its current ``text``) for ``completion`` inserted at the cursor.

    ``line`` is 1-based, ``column`` 0-based in code points. Returns the edits: names appended to existing
    statements, then at most one insertion of new statements; names defined at top level in more than one
    other file are left alone (no guessing).
    """
    lang = language_for_path(path)
    if lang is None or lang.name not in IMPORT_NODES or not completion.strip():
        return []
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return []
    line_prefix = lines[line - 1][:column]
    word = WORD_BEFORE_RE.search(line_prefix)
    rest = "\n".join(lines[: line - 1] + [line_prefix[: word.start() if word else len(line_prefix)] + lines[line - 1][column:]]
                     + lines[line:])
    present = set(parse_source(rest.encode("utf-8", errors="surrogatepass"), lang.name).references)
    family = JS_FAMILY if lang.name in JS_FAMILY else (lang.name,)
    snap = index.snapshot()
    by_source: dict[str, list[str]] = {}
    for name in introduced_names(line_prefix, completion, lang.name):
        if name in present:
            continue
        found = {p: d for p, d in index.symbols(name) if p != path and d.scope == "" and d.kind in IMPORTABLE_KINDS
                 and snap.languages.get(p) in family}
        if len(found) != 1:
            continue
        source, definition = next(iter(found.items()))
        if lang.name in JS_FAMILY and not _exported(index, source, name, definition.signature):
            continue
        by_source.setdefault(source, []).append(name)
    if not by_source:
        return []
    paths = set(snap.languages)
    module = {src: python_module(paths, src) if lang.name == "python" else js_specifier(path, src) for src in by_source}
    data, tree = _parse(text, lang.name)
    existing = _named_imports(data, tree, lang.name)
    edits: list[ImportEdit] = []
    for src, names in list(by_source.items()):
        if module[src] in existing:  # extend the statement that already imports from this module
            row, col = existing[module[src]]
            edits.append(ImportEdit(row, col, "".join(f", {n}" for n in names), tuple(names)))
            del by_source[src]
    if by_source:
        if lang.name == "python":
            statements = [f"from {module[src]} import {', '.join(names)}" for src, names in by_source.items()]
        else:
            semi = "" if re.search(r"^import .*['\"]\s*$", text, re.M) and not re.search(r"^import .*;\s*$", text, re.M) else ";"
            statements = [f"import {{ {', '.join(names)} }} from '{module[src]}'{semi}" for src, names in by_source.items()]
        row, col, lead = insertion_point(text, lang.name, tree)
        body = "\n".join(statements)
        edits.append(ImportEdit(row, col, ("\n" + body) if lead else body + "\n",
                                tuple(n for names in by_source.values() for n in names)))
    return edits


def _named_imports(data: bytes, tree: tree_sitter.Tree, language: str) -> dict[str, tuple[int, int]]:
    """Module -> (0-based line, code-point column) just after the last name of the document's top-level
    statement importing names from it: ``from M import a, b`` (not ``*``), ``import { a } from 'M'``.
    ``tree`` is the document ``data`` (UTF-8) parsed."""
    out: dict[str, tuple[int, int]] = {}
    for node in tree.root_node.children:
        last = None
        if language == "python" and node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            names = node.children_by_field_name("name")
            if module is not None and names:
                key, last = module.text.decode("utf-8", "replace"), names[-1]
        elif language in JS_FAMILY and node.type == "import_statement":
            source = node.child_by_field_name("source")
            clause = next((c for c in node.named_children if c.type == "import_clause"), None)
            named = next((c for c in clause.named_children if c.type == "named_imports"), None) if clause else None
            specs = [c for c in named.named_children if c.type == "import_specifier"] if named else []
            if source is not None and specs:
                key, last = source.text.decode("utf-8", "replace").strip("'\""), specs[-1]
        if last is not None and key not in out:
            row, col = last.end_point
            line_start = last.end_byte - col
            out[key] = (row, len(data[line_start:last.end_byte].decode("utf-8", "replace")))
    return out
