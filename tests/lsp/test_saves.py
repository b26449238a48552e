"""Saves and watched-file changes re-index the files and rebuild the ranking and the similar-code search once,
off the completion path."""

import threading
from types import SimpleNamespace

from codeassist.context import ContextCache
from indexer.index import Index
from indexer.rank import Ranker
from lsp.server import _update_files


def test_a_burst_of_changes_reindexes_each_file_and_rebuilds_the_ranking_once(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def alpha():\n    return 1\n")
    (tmp_path / "b.py").write_text("from a import alpha\n\n\ndef beta():\n    return alpha()\n")
    index = Index(tmp_path)
    index.refresh()
    ranker = Ranker(index)
    built = ranker.graph()[0]
    cache = ContextCache()
    cache.similar(index, "python")
    ls = SimpleNamespace(index=index, index_lock=threading.Lock(),
                         service=SimpleNamespace(ranker=ranker, context_cache=cache))
    import indexer.rank as rank

    calls = []
    real = rank.build_graph
    monkeypatch.setattr(rank, "build_graph", lambda snap: calls.append(1) or real(snap))
    (tmp_path / "a.py").write_text("def alpha():\n    return 1\n\n\ndef gamma():\n    return 3\n")
    (tmp_path / "c.py").write_text("def delta():\n    pass\n")
    _update_files(ls, ["a.py", "c.py", "../outside.py"])  # the bad path is logged, the others indexed
    assert [d.name for _, d in index.symbols("gamma")] == ["gamma"] and index.symbols("delta")
    assert len(calls) == 1  # one rebuild for the burst, done here
    graph, snap = ranker.graph()
    assert graph is not built and "gamma" in graph.definers and ranker._table_graph is graph
    assert len(calls) == 1  # the next completion finds it ready
    similar = cache._similar["python"]
    assert similar[0] == index.generation()[:2]  # up to date: the next completion does not re-read files
    assert similar[1].search("gamma", exclude_path="") and similar[1].search("delta", exclude_path="")
