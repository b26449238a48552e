"""Similar code in the packed context: BM25 windows over every file of the current file's language family."""

import subprocess
import textwrap

import pytest

from codeassist.context import ContextCache, gather_context
from codeassist.similar import REASON, SimilarIndex, chunk_spans, line_tails, query_text, similar_snippets, tail_match
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
    "web/post.js": """
        // same words in another language family: never similar code for a Python file
        function post_entry(entry, journal, currency) { return ledger.post_entry(entry, journal, currency); }
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
    yield index
    index.close()


def _index(files: dict[str, str]) -> SimilarIndex:
    sim = SimilarIndex()
    sim.update({p: str(hash(t)) for p, t in files.items()}, files.__getitem__)
    return sim


def test_windows_cover_the_file_with_overlap():
    assert chunk_spans(23) == [(1, 10), (6, 15), (11, 20), (16, 23)]
    assert chunk_spans(4) == [(1, 4)]
    assert chunk_spans(10) == [(1, 10)]
    assert chunk_spans(0) == []


def test_search_never_returns_the_excluded_file_and_scores_are_positive():
    sim = _index({"a.py": "post_entry(entry)", "b.py": "post_entry(entry)\nx = 1", "c.py": "unrelated words"})
    hits = sim.search("post_entry(entry", exclude_path="a.py", k=5)
    assert [h[1] for h in hits] == ["b.py"] and hits[0][0] > 0
    assert sim.search("", exclude_path="a.py") == [] and sim.search("nothing matches", exclude_path="a.py") == []


def test_update_rereads_only_changed_files_and_drops_deleted_ones():
    texts = {"a.py": "alpha_name = 1", "b.py": "beta_name = 2"}
    reads = []

    def read(path):
        reads.append(path)
        return texts[path]

    sim = SimilarIndex()
    assert sim.update({"a.py": "1", "b.py": "1"}, read) and sorted(reads) == ["a.py", "b.py"]
    assert not sim.update({"a.py": "1", "b.py": "1"}, read)  # nothing changed: nothing read or rebuilt
    texts["b.py"] = "gamma_name = 3"
    reads.clear()
    assert sim.update({"a.py": "1", "b.py": "2"}, read) and reads == ["b.py"]
    assert sim.search("gamma_name", exclude_path="") and not sim.search("beta_name", exclude_path="")
    assert sim.update({"b.py": "2"}, read) and not sim.search("alpha_name", exclude_path="")


def test_unreadable_files_and_windows_of_blank_lines_are_left_out():
    def read(path):
        if path == "gone.py":
            raise FileNotFoundError(path)
        return "\n" * 30 + "token_here = 1\n"

    sim = SimilarIndex()
    sim.update({"gone.py": "1", "a.py": "1"}, read)
    assert {w[0] for w in sim.windows} == {"a.py"}
    assert all(end > 25 for _, _, end in sim.windows)  # windows of blank lines are no documents


def test_snippets_fit_the_budget_and_skip_windows_already_in_the_prompt():
    files = {"a.py": "\n".join(f"call_{i % 3}(value)" for i in range(40)), "b.py": "\n".join(["other(text)"] * 10)}
    read = files.__getitem__
    every = similar_snippets(_index(files), "cur.py", "call_1(value)\ncall_2(", read, budget=10_000)
    assert {(s.path, s.start_line, s.end_line) for s in every} == {("a.py", a, b) for a, b in chunk_spans(40)}
    assert every[0].score >= every[-1].score and all(s.reason == REASON for s in every)
    got = similar_snippets(_index(files), "cur.py", "call_1(value)\ncall_2(", read, budget=100,
                           count_tokens=lambda t: len(t) // 4, exclude=[("a.py", 1, 12)])
    assert len(got) == 2 and sum(s.tokens for s in got) <= 100
    assert all(s.text == "\n".join(files[s.path].split("\n")[s.start_line - 1 : s.end_line]) for s in got)
    assert (1, 10) not in [(s.start_line, s.end_line) for s in got]  # inside the excluded span
    assert (6, 15) in [(s.start_line, s.end_line) for s in got]  # overlaps it only partly: kept


def test_context_brings_the_sibling_that_uses_the_same_api(repo):
    # refunds.py is being written; billing.py uses ledger the same way and is the best example
    text = (repo.root / "app/refunds.py").read_text()
    line = 6  # `    ledger.post_entry(entry, journal="refunds", ...)`, cursor after `ledger.`
    ctx = gather_context(repo, Ranker(repo), "app/refunds.py", line, len("    ledger."), budget=400,
                         cache=ContextCache(), text=text)
    similar = [s for s in ctx.snippets if s.reason == REASON]
    assert similar and similar[-1].path == "app/billing.py" and "post_entry" in similar[-1].text
    assert ctx.snippets[-1] is similar[-1]  # the most similar file ends next to the cursor
    assert all(s.path not in ("app/refunds.py", "web/post.js") for s in ctx.snippets)
    assert ctx.tokens == sum(s.tokens for s in ctx.snippets) <= 400


def test_the_similar_index_follows_the_disk_not_unsaved_buffers(repo):
    cache = ContextCache()
    first = cache.similar(repo, "python")
    repo.update_buffer("app/billing.py", "def settle():\n    return brand_new_word_in_buffer\n")
    assert cache.similar(repo, "python") is first
    assert not first.search("brand_new_word_in_buffer", exclude_path="")
    (repo.root / "app/billing.py").write_text("def settle():\n    return saved_word_on_disk\n")
    repo.drop_buffer("app/billing.py")
    repo.refresh()
    assert cache.similar(repo, "python").search("saved_word_on_disk", exclude_path="")


def test_top_windows_match_a_full_stable_sort():
    import numpy as np

    from codeassist.similar import _top

    rng = np.random.default_rng(0)
    for n, k in [(1000, 10), (10, 100), (500, 500), (20_000, 100)]:
        for ties in (False, True):
            scores = rng.integers(0, 5, n).astype(float) if ties else rng.random(n)
            scores[rng.integers(0, n, n // 10)] = -np.inf
            assert (_top(scores, k) == np.argsort(-scores, kind="stable")[:k]).all(), (n, k, ties)


def test_bm25_scores_are_bm25s_scores():
    """The numpy BM25 gives the scores of bm25s (the library CrossCodeEval-style baselines use), repeated
    query words, empty windows and all, to float32 rounding."""
    import random

    import numpy as np

    bm25s = pytest.importorskip("bm25s")
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)] + ["is", "not"]
    files = {f"f{i}.py": "\n".join(" ".join(rng.choices(words, k=rng.randint(0, 8))) + " ." for _ in
                                   range(rng.randint(1, 40))) for i in range(30)}
    sim = _index(files)
    texts = ["\n".join(files[p].split("\n")[a - 1 : b]) for p, a, b in sim.windows]
    ref = bm25s.BM25()
    ref.index(bm25s.tokenize(texts, stopwords=None, show_progress=False), show_progress=False)
    for query in ("w1 w2 w2 w3 w40 w1", "is not w7", "w59"):
        expected = ref.get_scores(bm25s.tokenize([query], stopwords=None, show_progress=False, return_ids=False)[0])
        got = {(p, a, b): s for s, p, a, b in sim.search(query, exclude_path="", k=len(texts))}
        want = {w: s for w, s in zip(sim.windows, expected) if s > 0}
        assert got.keys() == want.keys()
        assert np.allclose([got[w] for w in want], list(want.values()), rtol=1e-6, atol=1e-6)


def test_similar_code_sticks_while_it_holds_the_best_window(repo):
    """Moving the cursor keeps the last similar code while it holds the new best window, or another that quotes
    as much of the cursor's line (the prompt, and so the engine's KV cache, stays the same); a new best window
    or a change on disk replaces it."""
    from indexer.rank import Snippet

    def snip(path, start, text="text"):
        return Snippet(path, start, start + 9, text, 1.0, REASON, 3)

    cache, count = ContextCache(), len
    first = [snip("a.py", 1, "x = self.repo.head"), snip("b.py", 6)]
    assert cache.sticky_similar(repo, "cur.py", 100, count, first, "") is first
    assert cache.sticky_similar(repo, "cur.py", 100, count, [snip("b.py", 6), snip("c.py", 1)], "") is first
    assert cache.sticky_similar(repo, "other.py", 100, count, [snip("b.py", 6)], "") is not first  # per file
    typed = "    y = self.repo."
    as_much = [snip("d.py", 1, "z = self.repo.index")]  # 10 characters of the line, as first's a.py quotes
    assert cache.sticky_similar(repo, "cur.py", 100, count, as_much, typed) is first
    more = [snip("e.py", 1, "y = self.repo.tree")]  # the whole line: more than first quotes
    assert cache.sticky_similar(repo, "cur.py", 100, count, more, typed) is more
    moved = [snip("c.py", 1), snip("a.py", 1)]
    assert cache.sticky_similar(repo, "cur.py", 100, count, moved, "") is moved  # a best window it lacks
    (repo.root / "app/unrelated.py").write_text("def colour_wheel():\n    return 0\n")
    repo.refresh()
    again = [snip("c.py", 1)]
    assert cache.sticky_similar(repo, "cur.py", 100, count, again, "") is again  # the disk changed
    cache.reset_tiers()
    fresh = [snip("c.py", 1)]
    assert cache.sticky_similar(repo, "cur.py", 100, count, fresh, "") is fresh  # the evaluation starts afresh


def test_nearby_cursors_get_byte_identical_context(repo):
    text = (repo.root / "app/refunds.py").read_text()
    lines = text.split("\n")
    ranker = Ranker(repo)

    def context(line, cache):
        got = gather_context(repo, ranker, "app/refunds.py", line, len(lines[line - 1]), budget=400, cache=cache,
                             text=text)
        return [(s.path, s.start_line, s.end_line, s.text) for s in got.snippets]

    assert context(4, ContextCache()) != context(3, ContextCache())  # alone, each cursor finds other windows
    cache = ContextCache()
    assert context(4, cache) == context(3, cache)  # the best window for line 3 is already there: kept


def test_the_cursor_line_outweighs_the_lines_above_it():
    # the lines above the cursor match a.py twice as well as b.py; the cursor's own line matches b.py only
    files = {"a.py": "ledger.open(book)\nledger.close(book)\n", "b.py": "ledger.open(book)\nconsole.print(text)\n"}
    prefix = "ledger.open(book)\nledger.close(book)\nconsole."
    assert query_text(prefix, 2).split("\n") == prefix.split("\n") + ["console."] * 2
    plain = similar_snippets(_index(files), "cur.py", prefix, files.__getitem__, budget=None, cursor_line=False)
    weighted = similar_snippets(_index(files), "cur.py", prefix, files.__getitem__, budget=None)
    assert [s.path for s in plain] == ["a.py", "b.py"]
    assert [s.path for s in weighted] == ["b.py", "a.py"]


def test_windows_quoting_more_of_the_cursor_line_come_first():
    assert line_tails("x = 1\n    tree = self.repo.") == ["tree = self.repo.", "self.repo.", "repo."]
    assert line_tails("    a.") == [] and line_tails("") == []
    assert line_tails("x = 1\n    tree = self.re") == line_tails("tree = self.")  # the word being typed: left out
    assert tail_match(["self.repo.", "repo."], "x = repo.tree") == len("repo.")
    files = {  # BM25 likes words.py best (its words repeat); only verbatim.py holds "self.repo." as typed
        "words.py": "repo = self.repo or repo\ntree = repo.tree(repo)\nrepo.tree = tree",
        "verbatim.py": "commit = self.repo.head.commit\nunrelated(1)",
        "neither.py": "repository tree\nself.other",
    }
    prefix = "tree = self.repo."
    plain = similar_snippets(_index(files), "cur.py", prefix, files.__getitem__, budget=None, cursor_line=False)
    ranked = similar_snippets(_index(files), "cur.py", prefix, files.__getitem__, budget=None)
    assert plain[0].path == "words.py"
    assert [s.path for s in ranked][:2] == ["verbatim.py", "words.py"]  # 10 characters quoted, then 5
    assert len("self.repo.") < ranked[0].score < len("self.repo.") + 1
