"""Discovery and content checks: what gets indexed and what is skipped, in git work trees and plain folders."""

from __future__ import annotations

import os

import pytest

from indexer.discover import discover
from indexer.index import Index, IndexError_
from indexer_helpers import git, init_git, write_tree

IGNORE_TREE = {
    ".gitignore": "ignored.py\nsecret/\n*.gen.py\n!keep.gen.py\n",
    "kept.py": "def kept():\n    pass\n",
    "ignored.py": "def ignored():\n    pass\n",
    "secret/token.py": "TOKEN = 1\n",
    "x.gen.py": "X = 1\n",
    "keep.gen.py": "KEEP = 1\n",
    "local_top.py": "TOP = 1\n",  # matches sub/.gitignore's pattern, but is outside sub/
    "sub/.gitignore": "local_*.py\n",
    "sub/local_a.py": "A = 1\n",
    "sub/deeper/local_b.py": "B = 1\n",
    "sub/b.py": "def b():\n    pass\n",
    "sibling/local_c.py": "C = 1\n",
    "node_modules/lib/index.js": "export function lib() {}\n",
    "web/node_modules/x/y.ts": "export const y = 1;\n",
    "README.md": "# not source\n",
    "with space.py": "S = 1\n",
    "ünïcödé.py": "U = 1\n",  # git quotes such names unless asked not to
}
EXPECTED = ["keep.gen.py", "kept.py", "local_top.py", "sibling/local_c.py", "sub/b.py", "with space.py", "ünïcödé.py"]


def paths(root) -> list[str]:
    return [c.path for c in discover(root)]


def test_gitignore_in_a_git_repository(tmp_path):
    root = write_tree(tmp_path / "repo", IGNORE_TREE)
    init_git(root)
    assert paths(root) == EXPECTED


def test_gitignore_in_a_git_repository_untracked(tmp_path):
    root = init_git(tmp_path / "repo", commit=False)
    write_tree(root, IGNORE_TREE)
    assert paths(root) == EXPECTED


def test_gitignore_in_a_plain_directory(tmp_path):
    root = write_tree(tmp_path / "plain", IGNORE_TREE)
    assert not (root / ".git").exists()
    assert paths(root) == EXPECTED


def test_vendored_folder_skipped_even_when_tracked(tmp_path):
    root = write_tree(tmp_path / "repo", {"main.py": "X = 1\n", "node_modules/pkg/index.js": "var a = 1;\n",
                                          "vendor/lib/lib.go": "package lib\n"})
    init_git(root, commit=False)
    git(root, "add", "-f", ".")
    git(root, "commit", "-qm", "vendored")
    assert "node_modules/pkg/index.js" in git(root, "ls-files")
    assert paths(root) == ["main.py"]


def test_subdirectory_of_a_git_repository(tmp_path):
    root = write_tree(tmp_path / "repo", {"top.py": "T = 1\n", "sub/a.py": "A = 1\n", "sub/inner/b.py": "B = 1\n"})
    init_git(root)
    assert paths(root / "sub") == ["a.py", "inner/b.py"]


def test_index_folder_stays_out_of_git_status(make_repo):
    root = make_repo({"a.py": "A = 1\n"})
    with Index(root) as idx:
        idx.refresh()
    assert (root / ".codeassist" / "index.sqlite").exists()
    assert git(root, "status", "--porcelain") == ""


@pytest.fixture
def outside(tmp_path):
    out = write_tree(tmp_path / "outside", {
        "evil.py": "def evil_outside():\n    pass\n",
        "dir/leak.py": "def leak_outside():\n    pass\n",
    })
    return out


@pytest.mark.parametrize("use_git", [True, False])
def test_symlinks_leaving_the_repository_are_not_indexed(tmp_path, outside, use_git):
    root = write_tree(tmp_path / "repo", {"kept.py": "def kept():\n    pass\n"})
    os.symlink(outside / "evil.py", root / "linked.py")
    os.symlink(outside / "dir", root / "linkdir")
    os.symlink(root / "kept.py", root / "alias.py")  # stays inside: fine to follow
    os.symlink(root / "missing.py", root / "broken.py")
    if use_git:
        init_git(root)
    assert paths(root) == ["alias.py", "kept.py"]
    with Index(root) as idx:
        idx.refresh()
        assert idx.symbols("evil_outside") == []
        assert idx.symbols("leak_outside") == []
        assert sorted(idx.snapshot().languages) == ["alias.py", "kept.py"]


def test_binary_file_with_a_source_extension_is_skipped(make_repo):
    root = make_repo({"ok.py": "def ok():\n    pass\n", "blob.py": b"\x7fELF\x00\x00\x01def fake(): pass\n"})
    with Index(root) as idx:
        s = idx.refresh()
        assert s.skipped == {"binary": 1}
        assert sorted(idx.snapshot().languages) == ["ok.py"]


def test_file_over_the_size_limit_is_skipped(make_repo):
    root = make_repo({"small.py": "def small():\n    pass\n", "big.py": "def big():\n    pass\n" + "# pad\n" * 100})
    with Index(root, max_bytes=200) as idx:
        s = idx.refresh()
        assert s.files == 1
        assert idx.symbols("big") == []
        assert [p for p, _ in idx.symbols("small")] == ["small.py"]


def test_file_growing_over_the_limit_is_dropped(make_repo):
    root = make_repo({"grows.py": "def grows():\n    pass\n"})
    with Index(root, max_bytes=200) as idx:
        assert idx.refresh().files == 1
        (root / "grows.py").write_text("def grows():\n    pass\n" + "# pad\n" * 100)
        s = idx.refresh()
        assert (s.files, s.removed) == (0, 1)


def test_minified_js_is_skipped(make_repo):
    one_line = "var a=1;" + ";".join(f"function f{i}(x){{return x+{i}}}" for i in range(300)) + "\n"
    root = make_repo({
        "src/app.js": "export function app() {\n  return 1;\n}\n",
        "src/vendor.min.js": "function minifiedByName(){return 1}\n",  # by name, even when short
        "src/bundle.js": one_line,  # by shape: one very long line
    })
    with Index(root) as idx:
        s = idx.refresh()
        assert s.skipped == {"minified": 1}
        assert sorted(idx.snapshot().languages) == ["src/app.js"]
        assert idx.symbols("f7") == []
        assert idx.symbols("minifiedByName") == []


def test_generated_file_is_skipped(make_repo):
    root = make_repo({
        "api_pb2.py": "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\nX = 1\n",
        "schema.go": "// Code generated by sqlc. DO NOT EDIT.\npackage db\n",
        "types.ts": "/* @generated */\nexport type T = number;\n",
        "hand.py": "def hand_written():\n    pass\n",
    })
    with Index(root) as idx:
        s = idx.refresh()
        assert s.skipped == {"generated": 3}
        assert sorted(idx.snapshot().languages) == ["hand.py"]


def test_syntax_errors_index_what_parses(make_repo):
    root = make_repo({"broken.py": (
        "def fine_before():\n    return 1\n\n\n"
        "def broken(:\n    pass\n\n\n"
        "class FineAfter:\n    def method(self):\n        return 2\n"
    )})
    with Index(root) as idx:
        assert idx.refresh().files == 1
        assert [(d.name, d.kind, d.start_line) for _, d in idx.symbols("fine_before")] == [("fine_before", "function", 1)]
        assert [(d.kind, d.start_line, d.scope) for _, d in idx.symbols("method")] == [("method", 10, "FineAfter")]
        errors = idx.store.conn.execute("SELECT errors FROM files WHERE path = 'broken.py'").fetchone()[0]
        assert errors > 0


def test_clean_file_stores_zero_errors(make_repo):
    root = make_repo({"ok.py": "def ok():\n    pass\n"})
    with Index(root) as idx:
        idx.refresh()
        assert idx.store.conn.execute("SELECT errors, lines FROM files").fetchone() == (0, 3)


def test_non_utf8_file_indexes(make_repo):
    root = make_repo({"latin.py": "# -*- coding: latin-1 -*-\nGREETING = 'caf\xe9'\n\n\ndef greet():\n    return GREETING\n".encode("latin-1")})
    with Index(root) as idx:
        assert idx.refresh().files == 1
        assert [(p, d.start_line) for p, d in idx.symbols("greet")] == [("latin.py", 5)]
        assert [p for p, _ in idx.symbols("GREETING")] == ["latin.py"]
        assert "caf\ufffd" in idx.read_text("latin.py")


@pytest.mark.parametrize("use_git", [True, False])
def test_empty_repository(tmp_path, use_git):
    root = tmp_path / "empty"
    root.mkdir()
    if use_git:
        init_git(root, commit=False)
    with Index(root) as idx:
        s = idx.refresh()
        assert (s.files, s.symbols, s.reparsed) == (0, 0, 0)
        assert idx.snapshot().languages == {}


def test_index_of_a_non_directory_raises(tmp_path):
    f = tmp_path / "file.py"
    f.write_text("X = 1\n")
    with pytest.raises(IndexError_):
        Index(f)
    with pytest.raises(IndexError_):
        Index(tmp_path / "does-not-exist")
    assert not (tmp_path / "does-not-exist").exists()


def test_relpath(tmp_path, outside):
    root = write_tree(tmp_path / "repo", {"pkg/a.py": "A = 1\n"})
    os.symlink(outside / "evil.py", root / "linked.py")
    with Index(root) as idx:
        assert idx.relpath("pkg/a.py") == "pkg/a.py"
        assert idx.relpath(root / "pkg" / "a.py") == "pkg/a.py"
        assert idx.relpath("pkg/../pkg/a.py") == "pkg/a.py"
        assert idx.relpath("pkg/not-yet.py") == "pkg/not-yet.py"
        for bad in ("../outside/evil.py", outside / "evil.py", "/etc/passwd", "linked.py", "pkg/../../x.py"):
            with pytest.raises(IndexError_):
                idx.relpath(bad)
