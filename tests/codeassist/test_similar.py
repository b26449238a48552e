"""Similar code in the packed context: BM25 windows over the current file's related files."""

import subprocess
import textwrap

import pytest

from codeassist.context import ContextCache, gather_context
from codeassist.similar import REASON, ChunkIndex, chunk_lines, similar_snippets
from indexer.index import Index
from indexer.rank import Ranker

FILES = {
    "app/billing.py": """
        from app import ledger


        def settle(account, amount):
            entry = ledger.Entry(account.id, amount)
            ledger.post_entry(entry, journal="sales", currency=account.currency)
            return entry
    """,
    "app/refunds.py": """
        from app import ledger


        def refund(account, amount):
            entry = ledger.Entry(account.id, -amount)
            ledger.post_entry(entry, journal="refunds", currency=account.currency)
            return entry
    """,
    "app/ledger.py": """
        class Entry:
            def __init__(self, account_id, amount):
                self.account_id = account_id
                self.amount = amount


        def post_entry(entry, journal, currency):
            return (journal, currency, entry.amount)
    """,
    "app/unrelated.py": """
        def colour_wheel(hue, saturation):
            return [hue * k for k in range(saturation)]
    """,
}


@pytest.fixture
def repo(tmp_path):
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text).lstrip())
    (tmp_path / "app" / "__init__.py").write_text("")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.email=t@t", "-c", "user.name=t",
                                                           "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=tmp_path, check=True)
    index = Index(tmp_path)
    index.refresh()
    return index


def test_chunk_lines_cover_the_file_with_overlap():
    assert chunk_lines(["x"] * 23) == [(1, 10), (6, 15), (11, 20), (16, 23)]
    assert chunk_lines([]) == []


def test_search_never_returns_the_excluded_file_and_scores_are_positive():
    chunks = ChunkIndex([("a.py", ["post_entry(entry)"]), ("b.py", ["post_entry(entry)", "x = 1"]),
                         ("c.py", ["unrelated words"])])
    hits = chunks.search("post_entry(entry", exclude_path="a.py", k=5)
    assert [h[1] for h in hits] == ["b.py"] and hits[0][0] > 0


def test_snippets_fit_the_budget_and_do_not_overlap():
    lines = [f"call_{i % 3}(value)" for i in range(40)]
    chunks = ChunkIndex([("a.py", lines), ("b.py", ["other(text)"] * 10)])
    got = similar_snippets(chunks, "cur.py", "call_1(value)\ncall_2(", budget=100, count_tokens=lambda t: len(t) // 4,
                           exclude=[("a.py", 1, 3)])
    assert len(got) == 2 and sum(s.tokens for s in got) <= 100
    spans = [(1, 3)] + [(s.start_line, s.end_line) for s in got]
    assert all(not (a1 <= b2 and a2 <= b1) for i, (a1, b1) in enumerate(spans) for a2, b2 in spans[i + 1:])


def test_context_brings_the_sibling_that_uses_the_same_api(repo):
    # refunds.py is being written; billing.py uses ledger the same way and is the best example
    text = (repo.root / "app/refunds.py").read_text()
    line = 6  # `    ledger.post_entry(entry, journal="refunds", ...)`, cursor after `ledger.`
    ctx = gather_context(repo, Ranker(repo), "app/refunds.py", line, len("    ledger."), budget=400,
                         cache=ContextCache(), text=text)
    similar = [s for s in ctx.snippets if s.reason == REASON]
    assert similar and similar[-1].path == "app/billing.py" and "post_entry" in similar[-1].text
    assert ctx.snippets[-1] == similar[0] or ctx.snippets[-1].reason == REASON  # the best one ends nearest the cursor
    assert all(s.path != "app/refunds.py" for s in ctx.snippets)
    assert sum(s.tokens for s in ctx.snippets) <= 400


def test_related_files_exclude_the_current_file(repo):
    related = Ranker(repo).related_files("app/refunds.py", 10)
    assert "app/refunds.py" not in related and "app/ledger.py" in related
