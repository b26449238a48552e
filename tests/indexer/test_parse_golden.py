"""Golden symbol lists: every fixture file parsed with ``parse_source`` and compared, as a diff, to its golden file.

Run with ``UPDATE_GOLDEN=1`` to rewrite the golden files from the current parser, then read the diff by eye:
a golden file is a claim about correct behaviour, not a recording of whatever the parser does today.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from indexer.languages import language_for_path
from indexer.parse import parse_source

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
LANGS = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def render(lang: str) -> str:
    """One line per definition: ``kind name start-end scope signature`` (scope ``-`` at top level),
    grouped under a ``## path`` header per fixture file, then the file's raw imports."""
    out = []
    for path in sorted(p for p in (FIXTURES / lang).rglob("*") if p.is_file()):
        rel = path.relative_to(FIXTURES / lang).as_posix()
        spec = language_for_path(rel)
        assert spec is not None and spec.name == lang, f"{rel} is not a {lang} file"
        parsed = parse_source(path.read_bytes(), lang)
        out.append(f"## {rel} errors={parsed.errors}")
        for d in parsed.definitions:
            out.append(f"{d.kind} {d.name} {d.start_line}-{d.end_line} {d.scope or '-'} {d.signature}")
        out.extend(f"import {spec}" for spec in parsed.imports)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("lang", LANGS)
def test_symbols_match_golden(lang):
    actual = render(lang)
    golden = GOLDEN / f"{lang}.txt"
    if UPDATE:
        golden.write_text(actual)
    assert golden.exists(), f"no golden file {golden}; run with UPDATE_GOLDEN=1 and review it"
    expected = golden.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"golden/{lang}.txt", tofile=f"parse_source(fixtures/{lang})",
        ))
        pytest.fail(f"symbols of fixtures/{lang} differ from the golden file:\n{diff}", pytrace=False)
