"""Evaluation: case extraction, metrics against hand-computed values, the leak guard, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codeassist.context import Context, ContextCache
from codeassist.evaluation.bm25 import bm25_context
from codeassist.evaluation.cases import Case, extract_cases, read_cases, write_cases
from codeassist.evaluation.metrics import (
    edit_similarity, exact_match, identifier_match, identifiers, paired_bootstrap, score_prediction,
)
from codeassist.evaluation.runner import Evaluator, LeakError, leak_guard, summarize, CaseResult
from indexer.index import Index
from indexer.rank import Ranker, Snippet

UTIL = '''"""Helpers."""


def normalize_name(raw):
    return raw.strip().lower()


class Registry:
    def add(self, item):
        return item
'''

MODELS = '''"""Models."""


class Order:
    pass


def make_order():
    return Order()
'''

APP = '''"""The application."""
import os
from pkg.util import normalize_name, Registry
from pkg import models as m


def local_helper(x):
    return x + 1


def main(argv):
    name = normalize_name(argv[0])
    reg = Registry()
    order = m.make_order()
    # normalize_name in a comment is not a use
    text = "normalize_name in a string is not a use"
    value = local_helper(len(name))
    return reg.add(order), os.sep, value
'''


@pytest.fixture
def eval_repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "util.py").write_text(UTIL)
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "pkg" / "app.py").write_text(APP)
    return root


@pytest.fixture
def index(eval_repo: Path):
    ix = Index(eval_repo)
    ix.refresh()
    yield ix
    ix.close()


def test_extracts_exactly_the_cross_file_uses_and_an_in_file_control(index):
    cases = extract_cases(index, cases=10, seed=0, control_share=1.0)
    got = [(c.path, c.line, c.column, c.target, c.kind, c.name, c.defined_in) for c in cases]
    assert got == [
        ("pkg/app.py", 12, 11, "normalize_name(argv[0])", "crossfile", "normalize_name", ("pkg/util.py",)),
        ("pkg/app.py", 13, 10, "Registry()", "crossfile", "Registry", ("pkg/util.py",)),
        ("pkg/app.py", 14, 14, "make_order()", "crossfile", "make_order", ("pkg/models.py",)),
        ("pkg/app.py", 17, 12, "local_helper(len(name))", "infile", "local_helper", ("pkg/app.py",)),
        ("pkg/models.py", 9, 11, "Order()", "infile", "Order", ("pkg/models.py",)),
    ]


SHAPES = '''"""Shapes."""


class Shape:
    sides = 0

    def area(self):
        return 0.0

    def scale(self, factor):
        return self


def unit():
    return Shape()
'''

DRAW = '''"""Drawing: member reads of an imported class, and reads that are not."""
from typing import Optional
from geo.shapes import Shape


def draw(s: Shape, t: "Shape", u: Optional[Shape], v):
    a = s.area()
    b = t.scale(2)
    c = u.sides + v.area()
    return Shape.sides, a, b, c


def later():
    w = Shape()
    first = w.area()
    w = make()
    second = w.area()
    return first, second, w.nothing_here()


class Square(Shape):
    def area(self):
        return self.sides * 2.0 + self.own

    def grow(self):
        self.own = 1
        return self.scale(1.5) or self.area() or self.own


def nested(s: Shape):
    def inner():
        return s.scale(3)
    return inner


def café(s: Shape): return "é", s.area()
'''


def test_member_cases_are_reads_of_an_imported_class_members(tmp_path, monkeypatch):
    import codeassist.evaluation.cases as cases_module

    monkeypatch.setattr(cases_module, "MAX_CASES_PER_FILE", 50)
    root = tmp_path / "geo_repo"
    (root / "geo").mkdir(parents=True)
    (root / "geo" / "__init__.py").write_text("")
    (root / "geo" / "shapes.py").write_text(SHAPES)
    (root / "geo" / "draw.py").write_text(DRAW)
    ix = Index(root)
    ix.refresh()
    cases = [c for c in extract_cases(ix, cases=50, seed=0, kind="member", control_share=0) if c.kind == "member"]
    lines = DRAW.split("\n")
    got = [(c.line, lines[c.line - 1][:c.column].strip(), c.target, c.name) for c in cases]
    assert got == [
        (7, "a = s.", "area()", "area"),  # a parameter annotated with the class
        (8, "b = t.", "scale(2)", "scale"),  # ... as a string
        (9, "c = u.", "sides + v.area()", "sides"),  # ... as Optional; v is unannotated: no case
        (10, "return Shape.", "sides, a, b, c", "sides"),  # the class itself
        (15, "first = w.", "area()", "area"),  # bound to a call of the class; rebound to make() below: no case
        (23, "return self.", "sides * 2.0 + self.own", "sides"),  # inherited; area is the subclass's own
        (27, "return self.", "scale(1.5) or self.area() or self.own", "scale"),
        (32, "return s.", "scale(3)", "scale"),  # a nested function sees the parameter
        (36, 'def café(s: Shape): return "é", s.', "area()", "area"),  # columns count code points
    ]
    assert all(c.defined_in == ("geo/shapes.py",) for c in cases)
    monkeypatch.undo()
    five = extract_cases(ix, cases=50, seed=1, kind="member", control_share=0)
    assert len(five) == 5 and set(five) < set(cases) and extract_cases(ix, cases=50, seed=1, kind="member",
                                                                         control_share=0) == five
    with pytest.raises(ValueError, match="unknown case kind"):
        extract_cases(ix, cases=5, seed=0, kind="nope")
    ix.close()


def test_case_prefix_holds_nothing_after_the_cursor(index, eval_repo):
    text = (eval_repo / "pkg/app.py").read_text()
    for case in [c for c in extract_cases(index, cases=10, seed=0, control_share=1.0) if c.path == "pkg/app.py"]:
        prefix = case.prefix(text)
        assert text.startswith(prefix)
        assert case.target not in prefix.split("\n")[-1]
        assert len(prefix) == sum(len(l) + 1 for l in text.split("\n")[: case.line - 1]) + case.column


def test_at_most_five_cases_per_file_and_deterministic(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    (root / "lib.py").write_text("def helper_function(a):\n    return a\n")
    body = "from lib import helper_function\n\n\n" + "".join(f"v{i} = helper_function({i})\n" for i in range(30))
    (root / "use.py").write_text(body)
    ix = Index(root)
    ix.refresh()
    first = extract_cases(ix, cases=50, seed=3)
    assert len(first) == 5 and all(c.path == "use.py" for c in first)
    assert extract_cases(ix, cases=50, seed=3) == first
    assert {c.line for c in extract_cases(ix, cases=50, seed=4)} != {c.line for c in first}
    ix.close()


def test_cases_round_trip_through_a_file(index, tmp_path):
    cases = extract_cases(index, cases=10, seed=0, control_share=1.0)
    path = tmp_path / "cases.jsonl"
    write_cases(cases, path)
    assert read_cases(path) == cases
    path.write_text('{"path": "x.py"}\n')
    with pytest.raises(ValueError, match="cases.jsonl:1"):
        read_cases(path)


# -- metrics -------------------------------------------------------------------------------------------
def test_exact_match_and_edit_similarity():
    assert exact_match("  foo(a)  \nmore", "foo(a)") == 1.0
    assert exact_match("foo(b)", "foo(a)") == 0.0
    assert edit_similarity("abc", "abd") == pytest.approx(2 / 3)  # Indel: 2 edits over 6 characters
    assert edit_similarity("", "abc") == 0.0


def test_identifier_match_ignores_keywords_strings_and_comments():
    assert identifiers('return foo(bar, "baz") if x else None  # qux') == ["foo", "bar", "x"]  # None is a keyword
    assert identifiers("call(a, [b") == ["call", "a", "b"]  # an unfinished line still yields its names
    em, f1 = identifier_match("foo(bar, baz)", "foo(bar, qux)")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)  # tp 2, fp 1, fn 1: 4 / 6
    assert identifier_match("f(a, a)", "f(a)") == (0.0, 1.0)  # sets, as CrossCodeEval: repeats do not count
    assert identifier_match("foo(bar)", "foo(bar)  ") == (1.0, 1.0)
    assert identifier_match("()", ")") == (1.0, 1.0)
    assert identifier_match("x", "()") == (0.0, 0.0)
    assert score_prediction("foo(bar)", "foo(bar)") == {"em": 1.0, "es": 1.0, "id_em": 1.0, "id_f1": 1.0}


def test_paired_bootstrap():
    mean, lo, hi = paired_bootstrap([1, 1, 1, 1], [0, 0, 0, 0])
    assert (mean, lo, hi) == (1.0, 1.0, 1.0)
    a, b = [1, 0, 1, 1, 0, 1, 1, 0] * 5, [0, 0, 1, 0, 0, 1, 0, 0] * 5
    mean, lo, hi = paired_bootstrap(a, b, seed=1)
    assert mean == pytest.approx(0.375) and 0 < lo < mean < hi
    assert paired_bootstrap(a, b, seed=1) == (mean, lo, hi)
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 2])


def test_summary_pairs_conditions_by_case():
    rows = [CaseResult(f"c{i}", "crossfile", cond, "", {"em": float(cond == "packed" or i == 0)}, 1.0, 10, 0)
            for i in range(4) for cond in ("infile", "packed")]
    s = summarize(rows, ("infile", "packed"))
    assert s["conditions"]["crossfile"]["packed"]["em"] == 1.0
    assert s["conditions"]["crossfile"]["infile"]["em"] == 0.25
    assert s["differences"]["crossfile"]["packed-infile"]["em"][0] == 0.75


# -- retrieval and the leak guard ----------------------------------------------------------------------
def test_bm25_never_retrieves_the_target_file(index):
    retriever = ContextCache().similar(index, "python")
    hits = retriever.search("normalize_name Registry make_order", exclude_path="pkg/app.py")
    assert hits and all(path != "pkg/app.py" for _, path, *_ in hits)
    ctx = bm25_context(retriever, "pkg/util.py", "x = normalize_name(raw)\n", index.read_text)
    assert all(s.path != "pkg/util.py" for s in ctx.snippets)


def test_leak_guard_rejects_a_context_from_the_target_file():
    case = Case("pkg/app.py", 12, 11, "normalize_name(argv[0])", "crossfile", "normalize_name", ("pkg/util.py",))
    leak_guard(case, Context([Snippet("pkg/util.py", 1, 5, "def normalize_name", 1.0, "r", 5)], 1, 5))
    with pytest.raises(LeakError, match="pkg/app.py"):
        leak_guard(case, Context([Snippet("pkg/app.py", 12, 20, "name = ...", 1.0, "r", 5)], 1, 5))


class _Service:
    """Just what Evaluator.contexts reads: the index, a ranker, a token counter, the lock."""

    def __init__(self, index):
        self.index, self.ranker, self.index_lock = index, Ranker(index), threading.RLock()

    @staticmethod
    def count_tokens(text):
        return len(text.split())


def test_packed_and_bm25_contexts_exclude_the_target_and_share_a_budget(index, eval_repo):
    case = extract_cases(index, cases=10, seed=0)[0]
    prefix = case.prefix((eval_repo / case.path).read_text())
    index.update_buffer(case.path, prefix)
    contexts = Evaluator(_Service(index)).contexts(case, prefix, ("infile", "bm25", "packed"))
    assert contexts["infile"].snippets == []
    assert contexts["bm25"].snippets and contexts["packed"].snippets
    assert contexts["packed"].tokens <= contexts["bm25"].tokens
    assert "pkg/util.py" in contexts["packed"].files
    for ctx in contexts.values():
        assert case.path not in ctx.files


def test_eval_cli_scores_a_real_repository_with_the_default_model(default_model, eval_repo, tmp_path):
    out = tmp_path / "eval.json"
    res = subprocess.run([sys.executable, "-m", "codeassist", "eval", str(eval_repo), "--cases", "3", "--score",
                          "--json", "--out", str(out)], capture_output=True, text=True, timeout=900,
                         env={**__import__("os").environ, "CODEASSIST_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    cross = summary["conditions"]["crossfile"]
    assert set(cross) == {"infile", "bm25", "packed"} and cross["packed"]["n"] >= 1
    assert all(v["logprob"] < 0 for v in cross.values())
    saved = json.loads(out.read_text())
    assert len(saved["results"]) == 3 * summary["cases"]
    cases_file = Path(summary["cases_file"])
    assert cases_file.exists() and len(read_cases(cases_file)) == summary["cases"]
    again = subprocess.run([sys.executable, "-m", "codeassist", "eval", str(eval_repo), "--cases", "3",
                            "--conditions", "nonsense"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "nonsense" in again.stderr
    members = subprocess.run([sys.executable, "-m", "codeassist", "eval", str(eval_repo), "--kind", "member",
                              "--cases", "3", "--conditions", "infile,packed", "--score", "--json"],
                             capture_output=True, text=True, timeout=900,
                             env={**__import__("os").environ, "CODEASSIST_THREADS": "1"})
    assert members.returncode == 0, members.stderr
    summary = json.loads(members.stdout)
    assert summary["cases_file"].endswith("cases-member-s0-n3.jsonl")
    assert summary["conditions"]["member"]["packed"]["n"] == 1  # reg.add(order): reg = Registry()


def test_bm25_fills_a_fixed_budget_beyond_the_top_five(tmp_path):
    root = tmp_path / "chunks"
    root.mkdir()
    for i in range(12):
        (root / f"m{i}.py").write_text("".join(f"def shared_name_{i}_{j}(): return shared_name\n" for j in range(3)))
    (root / "target.py").write_text("x = shared_name\n")
    ix = Index(root)
    ix.refresh()
    retriever = ContextCache().similar(ix, "python")
    top = bm25_context(retriever, "target.py", "x = shared_name\n", ix.read_text)
    assert len(top.snippets) == 5  # CrossCodeEval's top 5
    filled = bm25_context(retriever, "target.py", "x = shared_name\n", ix.read_text, budget=10_000)
    assert len(filled.snippets) == 12 and "target.py" not in filled.files
    small = bm25_context(retriever, "target.py", "x = shared_name\n", ix.read_text, budget=30,
                         count_tokens=lambda t: len(t.split()))
    assert 0 < small.tokens <= 30
    ix.close()


def test_each_case_sees_only_its_own_file_truncated(tmp_path):
    """Earlier cases' prefix buffers are dropped, so other files are ranked, chunked and quoted whole."""
    from types import SimpleNamespace

    root = tmp_path / "two"
    root.mkdir()
    (root / "lib.py").write_text("def helper_function(a):\n    return a\n")
    body = "from lib import helper_function\n\n\n\nvalue = helper_function(1)\n"
    (root / "a.py").write_text(body)
    (root / "b.py").write_text(body)
    ix = Index(root)
    ix.refresh()
    seen = []

    class Recording(_Service):
        def complete(self, req, context=None):
            seen.append((req.path, sorted(ix.buffers), [s.path for s in context.snippets]))
            return SimpleNamespace(completion="helper_function(1)", prompt_tokens=1, context_files=[])

    cases = extract_cases(ix, cases=10, seed=0)
    assert [c.path for c in cases] == ["a.py", "b.py"]
    results = Evaluator(Recording(ix)).run(cases, ("bm25", "packed"))
    assert [(path, buffers) for path, buffers, _ in seen] == [("a.py", ["a.py"])] * 2 + [("b.py", ["b.py"])] * 2
    assert all("a.py" not in snippets or path != "a.py" for path, _, snippets in seen)
    assert all(r.metrics["em"] == 1.0 for r in results) and ix.buffers == {}
    ix.close()
