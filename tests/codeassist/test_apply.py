"""The safe write path: hostile paths refused, all-or-nothing writes, undo, dirty files, git round-trip."""

import os
import stat
import subprocess

import pytest

from codeassist import apply as applier
from codeassist.apply import FileChange, UnsafeEdit, plan_changes, undo, unified_diff, write_changes
from codeassist.edits import Edit, parse_edits


def git(cwd, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def a():\n    return 1\n")
    (root / "pkg" / "b.py").write_bytes(b"def b():\r\n    return 2\r\n")  # CRLF endings
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


@pytest.mark.parametrize("path, message", [
    ("/etc/passwd", "absolute"),
    ("../outside.py", "'..'"),
    ("pkg/../../x.py", "'..'"),
    (".git/config", ".git"),
    ("pkg/.git/hooks/pre-commit", ".git"),
])
def test_hostile_paths_are_refused_by_name(repo, path, message):
    with pytest.raises(UnsafeEdit, match=message) as info:
        plan_changes(repo, [Edit(path, "", "x\n")])
    assert path in str(info.value)


def test_symlink_escape_is_refused(repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "t.py").write_text("x = 1\n")
    os.symlink(outside, repo / "link")
    with pytest.raises(UnsafeEdit, match="symlink"):
        plan_changes(repo, [Edit("link/t.py", "x = 1\n", "x = 2\n")])
    assert (outside / "t.py").read_text() == "x = 1\n"


def test_binary_files_are_refused(repo):
    (repo / "blob.py").write_bytes(b"\x00\x01binary")
    with pytest.raises(UnsafeEdit, match="binary"):
        plan_changes(repo, [Edit("blob.py", "x", "y")])


def test_plan_keeps_line_endings_and_writes_nothing(repo):
    changes = plan_changes(repo, [Edit("pkg/b.py", "    return 2\n", "    return 3\n")])
    assert changes[0].new == b"def b():\r\n    return 3\r\n"
    assert (repo / "pkg" / "b.py").read_bytes() == b"def b():\r\n    return 2\r\n"


def test_write_keeps_modes_and_undo_restores_exact_bytes_modes_and_deleted_files(repo):
    before = {p: (repo / p).read_bytes() for p in ("pkg/a.py", "pkg/b.py", "run.sh")}
    edits = parse_edits(
        "run.sh\n<<<<<<< SEARCH\necho hi\n=======\necho bye\n>>>>>>> REPLACE\n"
        "pkg/new.py\n<<<<<<< SEARCH\n=======\nNEW = 1\n>>>>>>> REPLACE\n"
    ) + [Edit("pkg/a.py", "", "", delete=True)]
    changes = plan_changes(repo, edits)
    assert {c.path: c.kind for c in changes} == {"run.sh": "modify", "pkg/new.py": "create", "pkg/a.py": "delete"}
    write_changes(repo, changes)
    assert (repo / "run.sh").read_text().endswith("echo bye\n")
    assert stat.S_IMODE((repo / "run.sh").stat().st_mode) == 0o755
    assert not (repo / "pkg" / "a.py").exists() and (repo / "pkg" / "new.py").exists()
    assert sorted(undo(repo)) == ["pkg/a.py", "pkg/new.py", "run.sh"]
    assert {p: (repo / p).read_bytes() for p in before} == before
    assert stat.S_IMODE((repo / "run.sh").stat().st_mode) == 0o755
    assert not (repo / "pkg" / "new.py").exists()
    assert git(repo, "status", "--porcelain") == ""
    with pytest.raises(FileNotFoundError, match="nothing to undo"):
        undo(repo)


def test_failure_on_the_second_of_three_files_rolls_back_the_first(repo, monkeypatch):
    (repo / "pkg" / "c.py").write_text("c = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "c")
    before = {p: (repo / p).read_bytes() for p in ("pkg/a.py", "pkg/b.py", "pkg/c.py")}
    changes = plan_changes(repo, [Edit("pkg/a.py", "return 1", "return 10"), Edit("pkg/b.py", "return 2", "return 20"),
                                  Edit("pkg/c.py", "c = 1", "c = 30")])
    real = applier._atomic_write
    calls = []

    def flaky(full, data, mode):
        calls.append(full.name)
        if full.name == "b.py" and len(calls) == 2:
            raise PermissionError("disk says no")
        real(full, data, mode)

    monkeypatch.setattr(applier, "_atomic_write", flaky)
    with pytest.raises(PermissionError):
        write_changes(repo, changes)
    assert {p: (repo / p).read_bytes() for p in before} == before
    assert applier.last_journal(repo) is None  # a rolled-back write leaves nothing to undo


def test_dirty_files_are_refused_unless_allowed(repo):
    (repo / "pkg" / "a.py").write_text("def a():\n    return 1  # local edit\n")
    changes = plan_changes(repo, [Edit("pkg/a.py", "return 1", "return 5")])
    with pytest.raises(UnsafeEdit, match="uncommitted changes in pkg/a.py"):
        write_changes(repo, changes)
    write_changes(repo, changes, allow_dirty=True)
    assert "return 5" in (repo / "pkg" / "a.py").read_text()


def test_works_outside_git_with_the_journal(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    write_changes(tmp_path, plan_changes(tmp_path, [Edit("x.py", "x = 1", "x = 2")]))
    assert (tmp_path / "x.py").read_text() == "x = 2\n"
    undo(tmp_path)
    assert (tmp_path / "x.py").read_text() == "x = 1\n"


def test_apply_round_trips_a_git_diff(repo):
    (repo / "pkg" / "a.py").write_text("def a():\n    return 42\n\n\ndef extra():\n    pass\n")
    (repo / "pkg" / "b.py").unlink()
    (repo / "pkg" / "d.py").write_text("d = 4\n")
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached")
    wanted = {p: (repo / p).read_bytes() for p in ("pkg/a.py", "pkg/d.py")}
    git(repo, "reset", "-q", "--hard", "HEAD")
    changes = plan_changes(repo, parse_edits(diff))
    write_changes(repo, changes)
    assert {p: (repo / p).read_bytes() for p in wanted} == wanted
    assert not (repo / "pkg" / "b.py").exists()


def test_our_unified_diff_is_accepted_by_git_apply(repo):
    changes = plan_changes(repo, [Edit("pkg/a.py", "return 1", "return 7"), Edit("pkg/new.py", "", "n = 1\n")])
    patch = repo / "p.diff"
    patch.write_text(unified_diff(changes))
    git(repo, "apply", "--check", str(patch))
    git(repo, "apply", str(patch))
    assert (repo / "pkg" / "new.py").read_text() == "n = 1\n"


def test_create_refuses_an_existing_file(repo):
    with pytest.raises(UnsafeEdit, match="already exists"):
        write_changes(repo, [FileChange("pkg/a.py", None, b"x\n")])


def test_syntax_regression_is_reported():
    from codeassist.verify import syntax_regressions

    good = FileChange("m.py", b"def f():\n    return 1\n", b"def f():\n    return (1\n")
    assert "breaks the syntax" in syntax_regressions([good])[0]
    assert syntax_regressions([FileChange("m.py", b"x = 1\n", b"x = 2\n")]) == []


def test_python_syntax_tree_sitter_accepts_is_still_caught():
    """A def left without a body parses without error nodes; CPython's compiler refuses it."""
    from codeassist.verify import parse_errors, syntax_regressions

    old = b"def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    new = b"def f():\n\n\ndef g():\n    return 2\n"
    assert parse_errors("m.py", new) == parse_errors("m.py", old)
    problems = syntax_regressions([FileChange("m.py", old, new)])
    assert problems and "expected an indented block" in problems[0]
    legacy = b"print 'python 2'\n"  # a file that never compiled is not held to it
    assert syntax_regressions([FileChange("old.py", legacy, legacy + b"print 'more'\n")]) == []


def test_check_command_runs_on_a_scratch_copy_with_the_patch(tmp_path):
    import sys

    from codeassist.verify import run_check

    (tmp_path / "calc.py").write_text("def double(x):\n    return x + x\n")
    good = plan_changes(tmp_path, [Edit("calc.py", "return x + x", "return 2 * x")])
    bad = plan_changes(tmp_path, [Edit("calc.py", "return x + x", "return x * x")])
    check = f"{sys.executable} -c \"import calc; assert calc.double(3) == 6, 'wrong'\""
    assert run_check(tmp_path, good, check).passed
    failed = run_check(tmp_path, bad, check)
    assert not failed.passed and "wrong" in failed.output
    assert (tmp_path / "calc.py").read_text() == "def double(x):\n    return x + x\n"  # tree untouched
    slow = run_check(tmp_path, good, f"{sys.executable} -c \"import time; time.sleep(5)\"", timeout=0.5)
    assert slow.returncode == 124 and "timed out" in slow.output
