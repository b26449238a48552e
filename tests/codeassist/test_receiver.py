"""The receiver's class before the cursor, and its members as context (codeassist.receiver)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeassist.context import ContextCache, gather_context
from codeassist.receiver import ClassTable, receiver_at
from indexer.index import Index
from indexer.rank import Ranker

BOOK = "class Book(Ledger):\n    def a(self):\n        self.extra = 1\n\n    def b(self):\n        return "
CLASSES = {"Ledger": frozenset({"post", "balance", "entries"}), "Shape": frozenset({"area"})}


@pytest.mark.parametrize("prefix, expected", [
    ("def f(ledger: Ledger):\n    return ledger.", ("ledger", "Ledger")),
    ("def f(ledger: 'Ledger'):\n    x = 1\n    return ledger.ba", ("ledger", "Ledger")),
    ("def f(ledger: Optional[Ledger]):\n    ledger.", ("ledger", "Ledger")),
    ("def f(ledger: Ledger | None):\n    ledger.", ("ledger", "Ledger")),
    ("book = Ledger()\n\n\ndef f():\n    return book.", ("book", "Ledger")),  # a module binding seen in a function
    ("def f():\n    book = Ledger()\n    book = other()\n    book.", None),  # rebound: unknown
    ("def f():\n    with Ledger() as book:\n        book.", ("book", "Ledger")),
    ("x = Ledger.", ("Ledger", "Ledger")),
    ("def f(ledger):\n    return ledger.", None),  # not annotated
    ("def f(ledger: Ledger):\n    total = sum(\n        e.amount for e in ledger.", ("ledger", "Ledger")),  # brackets
    ("def f(ledger: Ledger):\n    if ledger.", ("ledger", "Ledger")),  # an unfinished block header
    ("def f(ledger: Ledger):\n    try:\n        v = (\n            'x'\n            if ledger.", ("ledger", "Ledger")),
    ("TABLE = {\n    Ledger.post: 1,\n    Ledger.", ("Ledger", "Ledger")),  # a dict display
    ("class Book(Ledger):\n    def total(self):\n        return self.", ("self", "Ledger")),
    ("class Book(Ledger):\n    def post(self):\n        return self.post", None),  # the subclass's own member
    ("def f(ledger: Ledger):\n    return ledger", None),  # no dot: not a member read
    ("def f(ledger: Ledger):\n    return ledger.post().", None),  # a call's result: not typed
    # an earlier method's ``self.x = ...`` makes x the subclass's own (it is read from the text before the method)
    (BOOK + "self.extra", None),
    (BOOK + "self.", ("self", "Ledger")),
    # a docstring line at column 0 hides the enclosing function from the split: the whole text is read
    ('def f(ledger: Ledger):\n    """Doc\nat column 0."""\n    return ledger.', ("ledger", "Ledger")),
])
def test_receiver_class_from_the_text_before_the_cursor(prefix, expected):
    assert receiver_at(prefix, CLASSES) == expected


LEDGER = '''"""Bookkeeping."""


class Ledger:
    """Entries and their balance."""

    currency: str = "EUR"

    def __init__(self, owner):
        self.owner = owner

    def post(self, account: str,
             amount: int) -> None:
        """Adds one entry."""
        print(account, amount)

    def balance(self, account: str) -> int:
        """The sum of the account's entries, in cents, as of the last closing of the books; entries posted
        after the closing count from the next one. Raises KeyError for an account the ledger never saw."""
        return 0

    @property
    def _audit(self):
        return []
'''

USE = '''"""Month end."""
from books.ledger import Ledger


def close_month(ledger: Ledger, account: str) -> int:
    total = ledger.balance(account)
    ledger.post(account, -total)
    return ledger.
'''


@pytest.fixture
def books(tmp_path: Path):
    root = tmp_path / "repo"
    (root / "books").mkdir(parents=True)
    (root / "books" / "__init__.py").write_text("")
    (root / "books" / "ledger.py").write_text(LEDGER)
    (root / "books" / "month.py").write_text(USE)
    (root / "books" / "other.py").write_text("class Ledger:\n    def unrelated(self):\n        pass\n")
    ix = Index(root)
    ix.refresh()
    yield ix
    ix.close()


def test_the_receivers_class_outline_ends_the_context(books):
    lines = USE.split("\n")
    line = len(lines) - 1
    ctx = gather_context(books, Ranker(books), "books/month.py", line, len(lines[line - 1]), budget=400,
                         count_tokens=lambda t: len(t.split()))
    last = ctx.snippets[-1]
    assert last.path == "books/ledger.py" and last.reason == "members of Ledger (ledger.)"  # the imported one
    assert last.text == (
        "class Ledger:\n"
        '    currency: str = "EUR"\n'
        "    def __init__(self, owner):\n"
        "    def post(self, account: str,\n"
        "             amount: int) -> None:\n"
        "    def balance(self, account: str) -> int:\n"
        "    @property\n"
        "    def _audit(self):"
    )
    assert ctx.tokens <= 400 and "books/month.py" not in ctx.files
    assert any(s.reason == "similar code" and s.path == "books/ledger.py" and s.start_line > 4 for s in ctx.snippets)
    # elsewhere in the line, no outline
    plain = gather_context(books, Ranker(books), "books/month.py", line - 1, 4, budget=400,
                           count_tokens=lambda t: len(t.split()))
    assert not any(s.reason.startswith("members of") for s in plain.snippets)


def test_a_small_budget_keeps_the_most_used_public_members(books):
    table = ClassTable(books.disk_snapshot())
    assert [i.path for i in table.by_name["Ledger"]] == ["books/ledger.py", "books/other.py"]
    assert table.pick("Ledger", "books/month.py", ["books/ledger.py"]).path == "books/ledger.py"
    assert table.pick("Ledger", "books/month.py", []) is None  # two other definers, neither imported
    from codeassist.receiver import member_outline

    info = table.pick("Ledger", "books/month.py", ["books/ledger.py"])
    lines = LEDGER.split("\n")
    count = lambda t: len(t.split())  # noqa: E731
    text, tokens = member_outline(info, lines, "", 19, count, lambda name: {"balance": 5, "post": 1}.get(name, 0))
    assert text == "class Ledger:\n    def post(self, account: str,\n             amount: int) -> None:\n" \
                   "    def balance(self, account: str) -> int:" and tokens <= 19  # chosen by use, shown in order
    text, _ = member_outline(info, lines, "_a", 7, count)
    assert text == "class Ledger:\n    @property\n    def _audit(self):"  # what was typed after the dot comes first
    assert member_outline(info, lines, "", 3, count) is None


def test_the_stable_tier_is_the_same_with_and_without_a_receiver(books):
    cache = ContextCache()
    ranker = Ranker(books)
    lines = USE.split("\n")
    at_dot = gather_context(books, ranker, "books/month.py", len(lines) - 1, len(lines[-2]), budget=300,
                            count_tokens=lambda t: len(t.split()), cache=cache)
    elsewhere = gather_context(books, ranker, "books/month.py", 6, 4, budget=300,
                               count_tokens=lambda t: len(t.split()), cache=cache)
    assert at_dot.snippets[-1].reason.startswith("members of")
    assert at_dot.snippets[: at_dot.stable_count] == elsewhere.snippets[: elsewhere.stable_count]


def test_no_outline_when_the_stable_tier_quotes_the_whole_class(tmp_path):
    root = tmp_path / "small"
    root.mkdir()
    (root / "point.py").write_text("class Point:\n    def norm(self):\n        return 0\n")
    (root / "use.py").write_text("from point import Point\n\n\ndef f(p: Point):\n    return p.\n")
    ix = Index(root)
    ix.refresh()
    ctx = gather_context(ix, Ranker(ix), "use.py", 5, len("    return p."), budget=400,
                         count_tokens=lambda t: len(t.split()))
    assert any(s.path == "point.py" and (s.start_line, s.end_line) == (1, 3) for s in ctx.snippets[: ctx.stable_count])
    assert not any(s.reason.startswith("members of") for s in ctx.snippets)
    ix.close()
