"""Incremental refresh in a real git repository, single-file updates, and unsaved editor buffers."""

from __future__ import annotations

import os

import pytest

from indexer_helpers import git
from indexer.index import Index, IndexError_

FILES = {
    "a.py": "def alpha():\n    return 1\n",
    "b.py": "class Beta:\n    def run(self):\n        return alpha()\n",
    "pkg/__init__.py": "",
    "pkg/c.py": "from a import alpha\n\n\ndef gamma():\n    return alpha()\n",
}


def names(idx: Index, name: str) -> list[tuple[str, str, int]]:
    return [(p, d.kind, d.start_line) for p, d in idx.symbols(name)]


def bump_mtime(path, seconds: int = 5) -> None:
    """Moves a file's mtime forward so that a same-size edit is seen even on coarse-mtime filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


@pytest.fixture
def repo(make_repo):
    return make_repo(FILES)


@pytest.fixture
def idx(repo):
    with Index(repo) as index:
        first = index.refresh()
        assert (first.files, first.reparsed, first.removed) == (4, 4, 0)
        yield index


def test_noop_refresh_reparses_nothing(idx):
    progress = []
    s = idx.refresh(lambda done, total: progress.append((done, total)))
    assert (s.files, s.reparsed, s.removed, s.skipped) == (4, 0, 0, {})
    assert progress == [(0, 0)]  # unchanged size and mtime: not even read


def test_index_persists_across_instances(repo, idx):
    idx.close()
    with Index(repo) as again:
        assert again.refresh().reparsed == 0
        assert names(again, "gamma") == [("pkg/c.py", "function", 4)]


def test_touch_without_change_reparses_nothing(repo, idx):
    bump_mtime(repo / "a.py")
    progress = []
    assert idx.refresh(lambda done, total: progress.append((done, total))).reparsed == 0  # same hash: stat recorded
    assert progress == [(0, 1), (1, 1)]  # read once, to compare hashes
    progress.clear()
    assert idx.refresh(lambda done, total: progress.append((done, total))).reparsed == 0
    assert progress == [(0, 0)]


def test_edit_changes_symbols(repo, idx):
    (repo / "a.py").write_text("def alpha_two():\n    return 2\n\n\nclass Alpha:\n    pass\n")
    s = idx.refresh()
    assert (s.reparsed, s.removed, s.files) == (1, 0, 4)
    assert names(idx, "alpha") == []
    assert names(idx, "alpha_two") == [("a.py", "function", 1)]
    assert names(idx, "Alpha") == [("a.py", "class", 5)]
    assert idx.refresh().reparsed == 0


def test_same_size_edit_is_seen(repo, idx):
    path = repo / "a.py"
    path.write_text(path.read_text().replace("alpha", "omega"))
    bump_mtime(path)
    assert idx.refresh().reparsed == 1
    assert names(idx, "omega") == [("a.py", "function", 1)]
    assert names(idx, "alpha") == []


def test_add_untracked_and_committed_files(repo, idx):
    (repo / "d.py").write_text("def delta():\n    pass\n")  # untracked, not ignored
    s = idx.refresh()
    assert (s.files, s.reparsed) == (5, 1)
    assert names(idx, "delta") == [("d.py", "function", 1)]
    git(repo, "add", "d.py")
    git(repo, "commit", "-qm", "d")
    assert idx.refresh().reparsed == 0


def test_delete_file(repo, idx):
    (repo / "b.py").unlink()  # still in git's index: listed by ls-files, gone from disk
    s = idx.refresh()
    assert (s.files, s.removed, s.reparsed) == (3, 1, 0)
    assert names(idx, "Beta") == []
    assert names(idx, "run") == []
    assert "b.py" not in idx.snapshot().languages


def test_git_rm(repo, idx):
    git(repo, "rm", "-q", "b.py")
    s = idx.refresh()
    assert (s.files, s.removed) == (3, 1)
    assert names(idx, "Beta") == []


def test_git_mv_rename(repo, idx):
    git(repo, "mv", "pkg/c.py", "pkg/c_renamed.py")
    s = idx.refresh()
    assert (s.files, s.removed, s.reparsed) == (4, 1, 1)
    assert names(idx, "gamma") == [("pkg/c_renamed.py", "function", 4)]


def test_plain_rename_outside_git(repo, idx):
    os.rename(repo / "b.py", repo / "pkg" / "b2.py")
    s = idx.refresh()
    assert (s.files, s.removed, s.reparsed) == (4, 1, 1)
    assert names(idx, "Beta") == [("pkg/b2.py", "class", 1)]
    assert names(idx, "run") == [("pkg/b2.py", "method", 2)]


def test_file_turning_binary_is_dropped(repo, idx):
    (repo / "a.py").write_bytes(b"\x00\x01\x02 def alpha(): pass\n")
    s = idx.refresh()
    assert s.skipped == {"binary": 1}
    assert s.files == 3
    assert names(idx, "alpha") == []


def test_update_file(repo, idx):
    (repo / "a.py").write_text("def alpha_saved():\n    pass\n")
    assert idx.update_file("a.py") is True
    assert names(idx, "alpha_saved") == [("a.py", "function", 1)]
    assert idx.update_file(repo / "a.py") is False  # unchanged since
    assert idx.refresh().reparsed == 0  # the store already has it


def test_update_buffer_overlays_unsaved_text(repo, idx):
    on_disk = (repo / "a.py").read_bytes()
    before = idx.snapshot()
    parsed = idx.update_buffer("a.py", "def alpha_unsaved():\n    pass\n\n\ndef helper():\n    pass\n")
    assert [d.name for d in parsed.definitions] == ["alpha_unsaved", "helper"]
    assert names(idx, "alpha_unsaved") == [("a.py", "function", 1)]
    assert names(idx, "alpha") == []  # the buffer hides the disk version of the file
    snap = idx.snapshot()
    assert snap is not before
    assert [d.name for d in snap.definitions["a.py"]] == ["alpha_unsaved", "helper"]
    assert idx.read_text("a.py").startswith("def alpha_unsaved")
    assert (repo / "a.py").read_bytes() == on_disk  # disk untouched
    assert idx.refresh().reparsed == 0  # and the store too

    idx.drop_buffer("a.py")
    assert names(idx, "alpha_unsaved") == []
    assert names(idx, "alpha") == [("a.py", "function", 1)]
    assert [d.name for d in idx.snapshot().definitions["a.py"]] == ["alpha"]
    idx.drop_buffer("a.py")  # dropping twice is harmless


def test_buffer_for_a_file_not_yet_on_disk(repo, idx):
    idx.update_buffer(repo / "pkg" / "new.py", "from . import c\n\n\ndef brand_new():\n    pass\n")
    snap = idx.snapshot()
    assert snap.languages["pkg/new.py"] == "python"
    assert snap.imports["pkg/new.py"] == ["pkg/c.py"]
    assert names(idx, "brand_new") == [("pkg/new.py", "function", 4)]
    assert not (repo / "pkg" / "new.py").exists()


def test_snapshot_is_cached_until_something_changes(repo, idx):
    s1 = idx.snapshot()
    assert idx.snapshot() is s1
    (repo / "e.py").write_text("E = 1\n")
    idx.refresh()
    s2 = idx.snapshot()
    assert s2 is not s1 and "e.py" in s2.languages


def test_snapshot_sees_another_connections_commit(repo, idx):
    reader_snap = idx.snapshot()
    (repo / "e.py").write_text("def epsilon():\n    pass\n")
    with Index(repo) as writer:
        writer.refresh()
    assert "e.py" in idx.snapshot().languages
    assert idx.snapshot() is not reader_snap


def test_buffers_for_unknown_languages_and_outside_paths(repo, idx, tmp_path):
    assert idx.update_buffer("notes.md", "# notes\n") is None
    with pytest.raises(IndexError_):
        idx.update_buffer(tmp_path / "elsewhere.py", "x = 1\n")
    with pytest.raises(IndexError_):
        idx.update_buffer("../escape.py", "x = 1\n")


def test_update_file_follows_the_discovery_rules(make_repo):
    """Saving a file that ``refresh`` would not index (ignored, vendored, too big) must not index it either:
    otherwise what the index holds depends on which files the editor happened to save."""
    root = make_repo({
        ".gitignore": "ignored.py\n",
        "ignored.py": "def ignored_fn():\n    pass\n",
        "node_modules/lib/index.js": "export function vendoredFn() {}\n",
        "big.py": "def big_fn():\n    pass\n" + "# pad\n" * 100,
    })
    with Index(root, max_bytes=200) as idx:
        assert idx.refresh().files == 0
        for path in ("ignored.py", "node_modules/lib/index.js", "big.py"):
            idx.update_file(path)
        assert idx.store.stats()["files"] == 0


def test_buffer_edits_reuse_the_disk_view_and_match_a_full_read(repo, idx):
    """A keystroke re-reads nothing from the database, yet the overlay equals what a fresh index would show."""
    idx.snapshot()
    disk = idx._disk
    idx.update_buffer("pkg/c.py", "from a import alpha\nimport b\n\n\ndef gamma():\n    return alpha() + 1\n")
    snap = idx.snapshot()
    assert idx._disk is disk  # the database was not read again
    assert snap.imports["pkg/c.py"] == ["a.py", "b.py"] and snap.imports.get("b.py") == disk.imports.get("b.py")
    assert snap.references["pkg/c.py"] != disk.references["pkg/c.py"]
    (repo / "pkg" / "c.py").write_text(idx.read_text("pkg/c.py"))  # the same text saved, seen by a fresh index
    with Index(repo, db_path=repo / "fresh.sqlite") as fresh:
        fresh.refresh()
        want = fresh.snapshot()
    for field_ in ("languages", "definitions", "references", "imports"):
        got, expected = getattr(snap, field_), getattr(want, field_)
        assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}, field_
    idx.drop_buffer("pkg/c.py")
    assert idx.snapshot().references["pkg/c.py"] == disk.references["pkg/c.py"]
