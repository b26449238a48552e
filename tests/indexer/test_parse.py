"""``parse_source`` details the golden files do not pin down: kinds and scopes, line ends, references, imports."""

from __future__ import annotations

import pytest

from indexer.languages import LANGUAGES, language_for_path
from indexer.parse import MAX_NAME_BYTES, SIGNATURE_MAX_CHARS, parse_source


def defs(source: str | bytes, lang: str) -> list[tuple]:
    data = source.encode() if isinstance(source, str) else source
    return [(d.kind, d.name, d.start_line, d.end_line, d.scope) for d in parse_source(data, lang).definitions]


def test_python_kinds_and_scopes():
    src = (
        "class Outer:\n"                    # 1
        "    def method(self):\n"           # 2
        "        def inner():\n"            # 3
        "            pass\n"                # 4
        "        return inner\n"            # 5
        "\n"                                # 6
        "    class Inner:\n"                # 7
        "        @staticmethod\n"           # 8
        "        async def deep():\n"       # 9
        "            pass\n"                # 10
        "\n"                                # 11
        "\n"                                # 12
        "def factory():\n"                  # 13
        "    class Made:\n"                 # 14
        "        def run(self):\n"          # 15
        "            pass\n"                # 16
        "    return Made\n"                 # 17
    )
    assert defs(src, "python") == [
        ("class", "Outer", 1, 10, ""),
        ("method", "method", 2, 5, "Outer"),
        ("function", "inner", 3, 4, "Outer.method"),
        ("class", "Inner", 7, 10, "Outer"),
        ("method", "deep", 9, 10, "Outer.Inner"),  # from the `def` line, not the decorator
        ("function", "factory", 13, 17, ""),
        ("class", "Made", 14, 16, "factory"),
        ("method", "run", 15, 16, "factory.Made"),
    ]


def test_columns_and_signatures():
    long_params = ", ".join(f"p{i}" for i in range(100))
    parsed = parse_source(f"class A:\n    def m(self, {long_params}):\n        pass\n".encode(), "python")
    m = parsed.definitions[1]
    assert m.start_col == 4
    assert m.signature.startswith("def m(self, p0, p1")
    assert len(m.signature) == SIGNATURE_MAX_CHARS


def test_crlf_source():
    assert [(d.name, d.start_line, d.end_line, d.signature) for d in parse_source(b"def f():\r\n    pass\r\n\r\nX = 1\r\n", "python").definitions] == [
        ("f", 1, 2, "def f():"), ("X", 4, 4, "X = 1"),
    ]


def test_references_are_counted_per_file():
    parsed = parse_source(b"total = price(item) + price(other)\nprint(total)\n", "python")
    assert parsed.references == {"total": 2, "price": 2, "item": 1, "other": 1, "print": 1}


def test_overlong_identifiers_are_not_references():
    long_name = "x" * (MAX_NAME_BYTES + 1)
    parsed = parse_source(f"{long_name} = short_name\n".encode(), "python")
    assert parsed.references == {"short_name": 1}


def test_python_imports_as_written_and_deduplicated():
    src = (
        "import os\nimport os\nimport a.b as ab\nfrom . import x, y as why\nfrom ..pkg.mod import name\n"
        "from star import *\nfrom typing import (\n    Any,\n    List,\n)\n"
    )
    assert parse_source(src.encode(), "python").imports == [
        "os", "a.b", ".|x", ".|y", "..pkg.mod|name", "star|*", "typing|Any", "typing|List",
    ]


def test_syntax_errors_are_counted():
    assert parse_source(b"def ok():\n    pass\n", "python").errors == 0
    broken = parse_source(b"def ok():\n    pass\n\ndef bad(:\n    pass\n\nclass Later:\n    pass\n", "python")
    assert broken.errors > 0
    assert [d.name for d in broken.definitions] == ["ok", "bad", "Later"]


def test_empty_and_non_utf8_sources():
    assert parse_source(b"", "python").definitions == []
    parsed = parse_source("NAME = 'caf\xe9'\ndef greet():\n    return NAME\n".encode("latin-1"), "python")
    assert [d.name for d in parsed.definitions] == ["NAME", "greet"]


ONE_LINE_DEFINITIONS = {  # a definition on line 1, more code on line 2: the definition must end on line 1
    "python": ("X = 1\ndef f(): pass\n", "X"),
    "javascript": ("const X = 1;\nfunction f() {}\n", "X"),
    "typescript": ("type Id = string;\nfunction f() {}\n", "Id"),
    "tsx": ("type Id = string;\nfunction f() {}\n", "Id"),
    "go": ("package p\nconst X = 1\nfunc f() {}\n", "X"),
    "rust": ("const X: u8 = 1;\nfn f() {}\n", "X"),
    "java": ("interface I { int X = 1; }\nclass C {}\n", "I"),
    "c": ("#define LIMIT 64\nint f(void) { return LIMIT; }\n", "LIMIT"),
    "cpp": ("#define LIMIT 64\nint f() { return LIMIT; }\n", "LIMIT"),
}


@pytest.mark.parametrize("lang", [spec.name for spec in LANGUAGES])
def test_one_line_definition_ends_on_its_line(lang):
    source, name = ONE_LINE_DEFINITIONS[lang]
    found = [(d.start_line, d.end_line) for d in parse_source(source.encode(), lang).definitions if d.name == name]
    line = 2 if lang == "go" else 1
    assert found == [(line, line)]


def test_rust_methods_of_generic_and_trait_impls():
    src = (
        "impl<T: Clone> Stack<T> {\n"        # 1
        "    fn push(&mut self, x: T) {}\n"  # 2
        "}\n"                                # 3
        "impl fmt::Display for Point {\n"    # 4
        "    fn fmt(&self) {}\n"             # 5
        "}\n"                                # 6
    )
    methods = [(kind, name, scope) for kind, name, _, _, scope in defs(src, "rust") if name in ("push", "fmt")]
    assert methods == [("method", "push", "Stack"), ("method", "fmt", "Point")]


@pytest.mark.parametrize(("path", "lang"), [
    ("a.py", "python"), ("a.pyi", "python"), ("A.PY", "python"), ("x.jsx", "javascript"), ("x.mjs", "javascript"),
    ("x.ts", "typescript"), ("x.d.ts", "typescript"), ("x.tsx", "tsx"), ("x.go", "go"), ("x.rs", "rust"),
    ("X.java", "java"), ("x.c", "c"), ("x.h", "c"), ("x.cc", "cpp"), ("x.hpp", "cpp"),
    ("README.md", None), ("Makefile", None), ("dir.py/file", None),
])
def test_language_for_path(path, lang):
    spec = language_for_path(path)
    assert (spec.name if spec else None) == lang
