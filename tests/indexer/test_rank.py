"""Ranking context for a cursor: the right definition first, the budget kept, the current file left out."""

from __future__ import annotations

import pytest

from indexer.index import Index
from indexer.rank import Ranker, cursor_identifiers, estimate_tokens, is_test_path

MAIN = '''"""Command line entry point."""

import sys


def main(argv):
    total = 0
    for raw in open(argv[1]):
        item = parse_invoice_line(raw)
        total += item.amount
    print(total)
    return 0
'''

PARSING = '''"""Parsing invoice files."""

from dataclasses import dataclass


@dataclass
class InvoiceLine:
    sku: str
    amount: int


def parse_invoice_line(text: str) -> InvoiceLine:
    """Parses one 'sku;amount' line."""
    sku, amount = text.strip().split(";")
    return InvoiceLine(sku, int(amount))


def parse_header(text):
    return text.split(",")
'''

UNRELATED = {
    "billing/report.py": "def render_report(rows):\n    return '\\n'.join(str(r) for r in rows)\n\n\nclass ReportWriter:\n    def write(self, rows):\n        return render_report(rows)\n",
    "utils/strings.py": "def slugify(text):\n    return text.lower().replace(' ', '-')\n\n\ndef truncate_words(text, n):\n    return ' '.join(text.split()[:n])\n",
    "net/http_client.py": "class HttpClient:\n    def fetch_resource(self, url):\n        return url\n\n    def post_payload(self, url, body):\n        return body\n",
    "storage/cache.py": "class LruCache:\n    def __init__(self, size):\n        self.size = size\n\n    def lookup_entry(self, key):\n        return None\n",
    "cli/colors.py": "RED = '\\x1b[31m'\n\n\ndef colorize(text, color=RED):\n    return color + text\n",
    "web/app.js": "export function renderPage(state) {\n  return `<main>${state.title}</main>`;\n}\n",
}


@pytest.fixture
def repo(make_repo):
    return make_repo({"app/__init__.py": "", "app/main.py": MAIN, "app/parsing.py": PARSING, **UNRELATED})


@pytest.fixture
def idx(repo):
    with Index(repo) as index:
        index.refresh()
        yield index


CURSOR_LINE = 9  # item = parse_invoice_line(raw)


def test_definition_used_at_cursor_ranks_first(idx):
    assert MAIN.split("\n")[CURSOR_LINE - 1].strip() == "item = parse_invoice_line(raw)"
    focus = cursor_identifiers(MAIN, CURSOR_LINE)
    snippets = Ranker(idx).rank("app/main.py", focus=focus, budget=1000)
    assert snippets, "nothing ranked"
    top = snippets[0]
    assert (top.path, top.start_line, top.end_line) == ("app/parsing.py", 12, 15)
    assert top.text.startswith("def parse_invoice_line(text: str) -> InvoiceLine:")
    assert "parse_invoice_line" in top.reason
    paths = [s.path for s in snippets]
    unrelated = [i for i, p in enumerate(paths) if p in UNRELATED]
    assert all(i > 0 for i in unrelated)
    assert all(s.score <= top.score for s in snippets)


def test_ranking_with_an_import_and_an_unsaved_buffer(repo, idx):
    """The current file only exists as an editor buffer; its import and cursor names steer the ranking."""
    text = "from utils.strings import slugify\n\n\ndef title_for(post):\n    return slugify(post.title)\n"
    idx.update_buffer("app/main.py", text)
    snippets = Ranker(idx).rank("app/main.py", focus=cursor_identifiers(text, 5), budget=1000)
    assert (snippets[0].path, snippets[0].start_line) == ("utils/strings.py", 1)
    assert snippets[0].text.startswith("def slugify(text):")
    assert (repo / "app/main.py").read_text() == MAIN


def test_snippet_text_matches_its_lines(repo, idx):
    for s in Ranker(idx).rank("app/main.py", focus=["parse_invoice_line", "InvoiceLine"], budget=4000):
        lines = (repo / s.path).read_text().split("\n")
        assert s.text == "\n".join(lines[s.start_line - 1 : s.end_line])
        assert s.tokens == estimate_tokens(s.text) + 1


@pytest.mark.parametrize("budget", [0, 5, 20, 40, 80, 150, 400])
def test_budget_is_respected(idx, budget):
    snippets = Ranker(idx).rank("app/main.py", focus=cursor_identifiers(MAIN, CURSOR_LINE), budget=budget)
    assert sum(s.tokens for s in snippets) <= budget
    if budget >= 80:  # room for parse_invoice_line (about 50 tokens): it must be chosen
        assert ("app/parsing.py", 12) in [(s.path, s.start_line) for s in snippets]


def test_budget_with_a_custom_token_counter(idx):
    words = lambda text: len(text.split())  # noqa: E731
    for budget in (3, 10, 25, 60):
        snippets = Ranker(idx).rank("app/main.py", focus=["parse_invoice_line"], budget=budget, count_tokens=words)
        assert sum(s.tokens for s in snippets) <= budget
        assert all(s.tokens == words(s.text) + 1 for s in snippets)


def test_bigger_budget_gives_more_context(idx):
    focus = ["parse_invoice_line", "parse_header", "InvoiceLine"]
    small = Ranker(idx).rank("app/main.py", focus=focus, budget=60)
    large = Ranker(idx).rank("app/main.py", focus=focus, budget=4000)
    assert len(small) == 1
    assert sorted((s.path, s.start_line) for s in large) == [("app/parsing.py", 7), ("app/parsing.py", 12), ("app/parsing.py", 18)]


def test_names_link_only_within_a_language_family(idx):
    """A JavaScript file asking for a Python name gets no Python definitions."""
    snippets = Ranker(idx).rank("web/app.js", focus=["parse_invoice_line", "slugify"], budget=4000)
    assert [s for s in snippets if s.path.endswith(".py")] == []


@pytest.mark.parametrize("current", ["app/main.py", "app/parsing.py", "billing/report.py", "utils/strings.py"])
def test_current_file_never_appears(idx, current):
    # focus on names the current file itself defines: they still must come from elsewhere
    focus = ["parse_invoice_line", "InvoiceLine", "render_report", "slugify", "main"]
    snippets = Ranker(idx).rank(current, focus=focus, budget=10_000)
    assert snippets
    assert current not in {s.path for s in snippets}


def test_excluded_paths_and_ranges(idx):
    ranker = Ranker(idx)
    focus = ["parse_invoice_line"]
    assert "app/parsing.py" not in {s.path for s in ranker.rank("app/main.py", focus=focus, exclude_paths=["app/parsing.py"])}
    covered = ranker.rank("app/main.py", focus=focus, exclude=[("app/parsing.py", 1, 20)])
    assert "app/parsing.py" not in {s.path for s in covered}


def test_ranking_follows_index_changes(repo, idx):
    ranker = Ranker(idx)
    assert ranker.rank("app/main.py", focus=["parse_invoice_line"])[0].path == "app/parsing.py"
    (repo / "app/parsing.py").unlink()
    (repo / "app/invoices.py").write_text("def parse_invoice_line(text):\n    return text\n")
    idx.refresh()
    top = ranker.rank("app/main.py", focus=["parse_invoice_line"])[0]
    assert (top.path, top.start_line) == ("app/invoices.py", 1)


def test_cursor_identifiers_nearest_lines_first():
    text = "alpha = 1\nbeta = alpha\ngamma = beta + delta\nepsilon = gamma\nzeta = 0\n"
    assert cursor_identifiers(text, 3) == ["gamma", "beta", "delta", "alpha", "epsilon", "zeta"]
    assert cursor_identifiers(text, 1) == ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    # the window looks further up than down
    assert cursor_identifiers(text, 3, window=1) == ["gamma", "beta", "delta", "alpha"]
    assert cursor_identifiers(text, 99)[0] == "zeta"  # clamped to the text (last line is empty)
    assert cursor_identifiers("", 1) == []


def test_cursor_identifiers_on_realistic_code():
    names = cursor_identifiers(MAIN, CURSOR_LINE)
    assert names[:3] == ["item", "parse_invoice_line", "raw"]
    assert names.index("total") < names.index("main")  # line 10/7 before line 6
    assert len(names) == len(set(names))
    narrow = cursor_identifiers(MAIN, CURSOR_LINE, window=4)  # lines 5..11: four above, two below
    assert "main" in narrow and "print" in narrow
    assert "sys" not in narrow and "Command" not in narrow and "return" not in narrow


@pytest.mark.parametrize(("path", "expected"), [
    ("tests/test_parsing.py", True),
    ("test/helpers.py", True),
    ("pkg/tests/conftest.py", True),
    ("src/__tests__/App.js", True),
    ("spec/models/user_spec.rb", True),
    ("testing/fixtures.py", True),
    ("app/test_parsing.py", True),
    ("server/handler_test.go", True),
    ("web/src/App.test.tsx", True),
    ("web/src/api.spec.ts", True),
    ("lib/util.test.js", True),
    ("app/parsing.py", False),
    ("app/contest.py", False),
    ("app/latest.py", False),
    ("app/testing_utils.py", False),
    ("attestation/verify.py", False),
    ("src/protest/main.go", False),
    ("app/test_data/loader.py", False),
    ("docs/specification.md", False),
])
def test_is_test_path(path, expected):
    assert is_test_path(path) is expected


def test_a_class_too_long_for_the_budget_comes_as_its_outline():
    from indexer.parse import Definition
    from indexer.rank import MAX_OUTLINE_MEMBERS, MAX_SNIPPET_LINES, fit_snippets

    body = ["class Big:"] + [line for i in range(30) for line in (f"    def m{i}(self, x):", "        return x * 2", "")]
    cls = Definition("Big", "class", 1, len(body), 0, "class Big:", "")
    members = lambda path, start, end: [2 + 3 * i for i in range(30)]
    count = lambda text: len(text.split())
    whole = fit_snippets([(1.0, "big.py", cls, "r")], lambda p: body, 1000, count, members=members)
    assert whole[0].text.count("\n") == MAX_SNIPPET_LINES - 1 and "outline" not in whole[0].reason
    outlined = fit_snippets([(1.0, "big.py", cls, "r")], lambda p: body, 60, count, members=members)
    (snippet,) = outlined
    assert snippet.reason == "r (outline)" and snippet.start_line == snippet.end_line == 1
    assert snippet.text.splitlines()[:3] == ["class Big:", "    def m0(self, x):", "    def m1(self, x):"]
    assert "return" not in snippet.text and snippet.tokens <= 60
    assert len(snippet.text.splitlines()) == 1 + MAX_OUTLINE_MEMBERS
    assert fit_snippets([(1.0, "big.py", cls, "r")], lambda p: body, 60, count) == []  # no members known: left out


def test_keystrokes_keep_the_graph_until_its_shape_changes(idx):
    ranker = Ranker(idx)
    assert "truncate_words" not in MAIN
    typed = MAIN + "\n\ndef later():\n    x = trun"
    idx.update_buffer("app/main.py", typed)
    graph, _ = ranker.graph()
    idx.update_buffer("app/main.py", typed + "cate_words")  # references only: the graph stays
    assert ranker.graph()[0] is graph
    # the name typed at the cursor still steers the ranking, through focus
    snippets = ranker.rank("app/main.py", focus=cursor_identifiers(typed + "cate_words", typed.count("\n") + 1), budget=1000)
    assert ("utils/strings.py", 5) in [(s.path, s.start_line) for s in snippets]
    idx.update_buffer("app/main.py", typed + "cate_words\n\n\ndef brand_new():\n    pass\n")
    rebuilt, snap = ranker.graph()
    assert rebuilt is not graph and "brand_new" in rebuilt.definers  # a new definition: rebuilt
    idx.update_buffer("app/main.py", "from utils.strings import slugify\n" + typed)
    imported = ranker.graph()[0]
    assert imported is not rebuilt  # a new resolved import: rebuilt
    idx.update_buffer("app/main.py", "from utils.strings import slugify\n" + typed + "(\n")
    assert ranker.graph()[0] is imported  # an unbalanced paren hides later definitions: not a new shape


def test_array_scoring_equals_scoring_one_definition_at_a_time(idx):
    from indexer.rank import MAX_CANDIDATES, _score_python, pagerank, personalise, score_definitions

    idx.update_buffer("utils/strings.py", "def slugify(text):\n    return text\n\n\ndef unsaved_helper():\n    pass\n")
    ranker = Ranker(idx)
    graph, snap = ranker.graph()
    table = ranker.table(graph)
    for current, focus, skip in [("app/main.py", cursor_identifiers(MAIN, CURSOR_LINE), ()),
                                 ("app/main.py", [], ("app/parsing.py",)), (None, [], ()),
                                 ("utils/strings.py", ["parse_invoice_line"], ()), ("web/app.js", ["slugify"], ())]:
        focus = [f for f in focus if f in graph.definers]
        ranks = pagerank(graph, personalise(graph, snap, current, focus))
        want = [t for t in _score_python(graph, snap, ranks, current, focus) if t[1] not in skip]
        for limit in (3, MAX_CANDIDATES):
            got = score_definitions(graph, snap, ranks, current, focus, table=table, skip=skip, limit=limit)
            assert got == want[:limit], (current, focus, skip, limit)
    focus = ["unsaved_helper"]  # defined only in the buffer: scored from the snapshot, not the disk's table
    ranks = pagerank(graph, personalise(graph, snap, "app/main.py", focus))
    top = score_definitions(graph, snap, ranks, "app/main.py", focus, table=table, limit=MAX_CANDIDATES)
    assert (top[0][1], top[0][2].name) == ("utils/strings.py", "unsaved_helper")
