"""The languages the indexer understands: file extensions, tree-sitter grammars and tags queries.

Grammars come from the per-language wheels (``tree-sitter-python`` …), which ship compiled parsers and
need no network. Queries are data files in ``indexer/queries/<stem>.{tags,refs}.scm``; their capture names are
documented in ``indexer.parse``.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter

QUERY_DIR = Path(__file__).with_name("queries")
_CAPTURE = re.compile(rb"@([A-Za-z_][\w.-]*)")  # a capture name in query text, in patterns and predicates alike


@dataclass(frozen=True)
class LanguageSpec:
    name: str  # stored in the index, e.g. "python", "tsx"
    module: str  # grammar wheel's import name
    function: str  # function in that module returning the language pointer
    query: str  # query file stem under QUERY_DIR
    extensions: tuple[str, ...]  # lower-case, with the dot


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", "tree_sitter_python", "language", "python", (".py", ".pyi")),
    LanguageSpec("javascript", "tree_sitter_javascript", "language", "javascript", (".js", ".jsx", ".mjs", ".cjs")),
    LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", "typescript", (".ts", ".mts", ".cts")),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", "typescript", (".tsx",)),
    LanguageSpec("go", "tree_sitter_go", "language", "go", (".go",)),
    LanguageSpec("rust", "tree_sitter_rust", "language", "rust", (".rs",)),
    LanguageSpec("java", "tree_sitter_java", "language", "java", (".java",)),
    LanguageSpec("c", "tree_sitter_c", "language", "c", (".c", ".h")),
    LanguageSpec("cpp", "tree_sitter_cpp", "language", "cpp", (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp")),
)

_BY_EXTENSION = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
_BY_NAME = {spec.name: spec for spec in LANGUAGES}


def language_for_path(path: str) -> LanguageSpec | None:
    """The language of a file by its extension, or None when the indexer does not handle it."""
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    return _BY_EXTENSION.get(path[dot:].lower())


def spec(name: str) -> LanguageSpec:
    return _BY_NAME[name]


@cache
def ts_language(name: str) -> tree_sitter.Language:
    s = _BY_NAME[name]
    return tree_sitter.Language(getattr(importlib.import_module(s.module), s.function)())


@cache
def parser(name: str) -> tree_sitter.Parser:
    return tree_sitter.Parser(ts_language(name))


@cache
def query(name: str, kind: str) -> tree_sitter.Query:
    """The compiled query ``queries/<stem>.<kind>.scm``: kind "tags" (definitions, imports) or "refs"."""
    text = (QUERY_DIR / f"{_BY_NAME[name].query}.{kind}.scm").read_text()
    return tree_sitter.Query(ts_language(name), text)


@cache
def index_query(name: str) -> tree_sitter.Query:
    """The refs and tags queries compiled as one, for a single pass over the tree run as captures.

    A captures run says which capture each node belongs to but not which match, so every capture of
    tags pattern ``i`` is renamed ``@<capture>.<i>`` (``@name.3``, ``@definition.field.3``) and
    ``indexer.parse`` pairs each pattern's captures back into matches. ``@reference`` keeps its name.
    """
    s = _BY_NAME[name].query
    tags_text = (QUERY_DIR / f"{s}.tags.scm").read_bytes()
    tags = tree_sitter.Query(ts_language(name), tags_text.decode())
    parts = [(QUERY_DIR / f"{s}.refs.scm").read_bytes()]
    for i in range(tags.pattern_count):
        pattern = tags_text[tags.start_byte_for_pattern(i):tags.end_byte_for_pattern(i)]
        parts.append(_CAPTURE.sub(lambda m: b"@%s.%d" % (m.group(1), i), pattern))
    return tree_sitter.Query(ts_language(name), b"\n".join(parts).decode())
