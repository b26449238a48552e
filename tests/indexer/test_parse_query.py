"""The one-pass index query (``languages.index_query``, run as captures) against the plain queries run the
slow, obvious way: the tags query as matches, the refs query as captures. Both must give the same parse.

The snippets hold what the capture pairing in ``indexer.parse`` could get wrong: several names under one
definition node, same-pattern definitions nested in each other, several ``from`` imports in one file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import tree_sitter

from indexer import languages
from indexer.languages import language_for_path
from indexer.parse import MAX_NAME_BYTES, ParsedFile, _count_errors, _with_scopes, parse_source

FIXTURES = Path(__file__).parent / "fixtures"

SNIPPETS = {
    "python": (
        "from a import (b, c as d)\nfrom . import *\nfrom .x import y\nimport m.n, o as p\n"
        "class A:\n    x = y = 1\n    class B:\n        z = 2\n        class C:\n            w = 3\n    def f(self): pass\n"
        "X, Y = 1, 2\nT = 3\nfrom q import r\n"
    ),
    "go": (
        'package p\nimport (\n\t"fmt"\n\tm "math"\n)\nvar a, b = 1, 2\nconst (\n\tc = 1\n\td = 2\n)\n'
        "type S struct {\n\tx, y int\n\tz struct{ u, v int }\n}\nfunc (s S) M() {}\nfunc F() {}\n"
        "type I interface {\n\tR(n int) error\n}\nfunc (p *G[T]) N() {}\n"
    ),
    "java": "import java.util.List;\nclass A {\n  int a, b;\n  class B {\n    int c;\n    void m() {}\n  }\n}\n",
    "c": (
        '#include "x.h"\n#define M 1\nint f(void), g(void);\nstruct S { int a; } *h(void) { return 0; }\n'
        "typedef struct T { struct U { int y; } u; } T;\n"
    ),
    "cpp": "namespace n {\nclass C {\n  void m();\n  int f(int);\n  class D { void e(); };\n};\nint C::f(int x) { auto g = [](){}; return x; }\n}\nvoid n::C::m() {}\n",
    "javascript": (
        'const a = 1, b = 2;\nexport const c = 3, d = 4;\nclass K { x = 1; m() { class L { y = 2; } } }\n'
        'const r = require("mod");\nimport x from "y";\nexport { z } from "w";\n'
    ),
    "typescript": (
        "interface I { m(): void }\nabstract class A { abstract n(): void }\ntype T = number;\nenum E { A }\n"
        "namespace N { export function f() {} namespace O { function g() {} } }\nexport const q = 1, w = 2;\n"
        'import { h } from "./h";\n'
    ),
    "tsx": "const App = () => <div/>;\nexport function F() { return <A/>; }\nclass G { p = 1; }\n",
    "rust": (
        "use std::io;\nstruct S;\nimpl S { fn f() {} }\nimpl<T> G<T> {}\nimpl a::B {}\n"
        "mod m { fn g() {} mod n { fn h() {} } }\nmacro_rules! mm { () => {} }\nconst C: i32 = 1;\nstatic X: i32 = 2;\n"
        "trait T { fn t(&self); }\n"
    ),
}


def parse_with_separate_queries(source: bytes, language: str) -> ParsedFile:
    """What ``parse_source`` computes, from the tags query's matches and the refs query's captures."""
    root = languages.parser(language).parse(source).root_node
    refs = Counter(n.text for n in tree_sitter.QueryCursor(languages.query(language, "refs")).captures(root).get("reference", ()))
    raw_defs, imports = [], []
    for _, caps in tree_sitter.QueryCursor(languages.query(language, "tags")).matches(root):
        if "name" in caps:
            name = caps["name"][0]
            key = next(k for k in caps if k.startswith("definition."))
            node = caps[key][0]
            end_row = node.end_point[0] - (node.end_point[1] == 0 and node.end_point[0] > node.start_point[0])
            scope = "::".join(n.text.decode() for n in sorted(caps.get("scope", ()), key=lambda n: n.start_byte))
            raw_defs.append((node.start_byte, node.end_byte, name.start_byte, name.text.decode(), key[11:],
                             node.start_point[0], end_row, node.start_point[1], scope))
        elif "import.module" in caps:
            imports.append(caps["import.module"][0].text.decode())
        elif "import.from" in caps:
            module = caps["import.from"][0].text.decode()
            names = caps.get("import.name") or ()
            imports.extend(f"{module}|{n.text.decode()}" for n in names) if names else imports.append(f"{module}|*")
    return ParsedFile(
        language=language,
        definitions=_with_scopes(raw_defs, source),
        references={k.decode(errors="replace"): v for k, v in refs.items() if len(k) <= MAX_NAME_BYTES},
        imports=list(dict.fromkeys(imports)),
        errors=_count_errors(root) if root.has_error else 0,
    )


def cases():
    for lang, text in SNIPPETS.items():
        yield pytest.param(text.encode(), lang, id=f"snippet-{lang}")
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        yield pytest.param(path.read_bytes(), language_for_path(path.name).name, id=path.relative_to(FIXTURES).as_posix())


@pytest.mark.parametrize(("source", "language"), cases())
def test_one_pass_query_matches_separate_queries(source, language):
    expected = parse_with_separate_queries(source, language)
    actual = parse_source(source, language)
    assert actual.definitions == expected.definitions
    assert actual.imports == expected.imports
    assert actual.references == expected.references
    assert actual.errors == expected.errors


def test_snippets_exercise_the_pairing():
    """The snippets are not vacuous: several names share a definition node, and same-kind definitions nest."""
    go = parse_source(SNIPPETS["go"].encode(), "go").definitions
    fields = [d for d in go if d.kind == "field"]
    assert [d.name for d in fields][:2] == ["x", "y"] and fields[0].start_line == fields[1].start_line
    assert [(d.name, d.scope) for d in go if d.kind == "method"] == [("M", "S"), ("R", "I"), ("N", "G")]
    cpp = parse_source(SNIPPETS["cpp"].encode(), "cpp").definitions
    assert [(d.name, d.scope) for d in cpp if d.start_line >= 7] == [("f", "n.C"), ("m", "n.C")]
    py = parse_source(SNIPPETS["python"].encode(), "python")
    assert [(d.name, d.scope) for d in py.definitions if d.kind == "field"] == [("x", "A"), ("z", "A.B"), ("w", "A.B.C")]
    assert py.imports == ["a|b", "a|c", ".|*", ".x|y", "m.n", "o", "q|r"]
    js = parse_source(SNIPPETS["javascript"].encode(), "javascript").definitions
    assert [d.name for d in js if d.kind == "variable"] == ["a", "b", "c", "d", "r"]


@pytest.mark.parametrize("language", sorted({spec.name for spec in languages.LANGUAGES}))
def test_index_query_renames_tags_captures_per_pattern(language):
    query = languages.index_query(language)
    names = {query.capture_name(i) for i in range(query.capture_count)}
    assert "reference" in names
    tags = languages.query(language, "tags")
    assert query.pattern_count == languages.query(language, "refs").pattern_count + tags.pattern_count
    for name in names - {"reference"}:
        base, _, pattern = name.rpartition(".")
        assert pattern.isdigit() and int(pattern) < tags.pattern_count, name
