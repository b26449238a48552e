"""Applying edits to a repository safely: path checks, dirty-file guard, undo journal, all-or-nothing writes.

Edits come from a model or a patch file, so they are untrusted: every path must stay inside the
repository (no absolute paths, no ``..``, no symlink leading out, nothing under ``.git/``) and must not
name a binary file. Before any write, the previous bytes and mode of every touched file are recorded in
a journal under ``.codeassist/journal/``; each file is written to a temporary sibling and renamed into
place; if any step fails, the files already written are restored from the journal. ``undo`` replays the
newest journal backwards.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codeassist.edits import Edit, EditError, apply_edit

JOURNAL_DIR = ".codeassist/journal"
BINARY_SNIFF_BYTES = 8192


class UnsafeEdit(EditError):
    """An edit that would write outside the repository, into .git, or over a binary or dirty file."""


@dataclass
class FileChange:
    path: str  # repository-relative, POSIX
    old: bytes | None  # None: the file does not exist yet
    new: bytes | None  # None: the file is deleted
    mode: int | None = None  # st_mode of the existing file, kept on rewrite

    @property
    def kind(self) -> str:
        return "create" if self.old is None else "delete" if self.new is None else "modify"


def safe_path(root: Path, path: str) -> str:
    """The repository-relative form of an untrusted ``path``; raises UnsafeEdit naming the path."""
    raw = path.strip()
    if not raw:
        raise UnsafeEdit("an edit names an empty path")
    p = PurePosixPath(raw.replace("\\", "/"))
    if p.is_absolute() or raw.startswith("~") or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeEdit(f"{path}: absolute paths are refused")
    if ".." in p.parts:
        raise UnsafeEdit(f"{path}: paths with '..' are refused")
    if ".git" in p.parts:
        raise UnsafeEdit(f"{path}: files inside .git are refused")
    rel = p.as_posix().removeprefix("./")
    full = root / rel
    resolved_root = root.resolve()
    # every existing ancestor (and the file itself) must resolve inside the repository
    probe = full
    while True:
        if probe.exists() or probe.is_symlink():
            try:
                probe.resolve().relative_to(resolved_root)
            except ValueError:
                raise UnsafeEdit(f"{path}: leads outside the repository through a symlink") from None
        if probe == root or probe.parent == probe:
            break
        probe = probe.parent
    return rel


def _read_existing(root: Path, rel: str) -> tuple[bytes | None, int | None]:
    full = root / rel
    if not full.exists():
        return None, None
    if not full.is_file():
        raise UnsafeEdit(f"{rel}: not a regular file")
    data = full.read_bytes()
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise UnsafeEdit(f"{rel}: binary files are refused")
    return data, full.stat().st_mode


def _decode(data: bytes, rel: str) -> tuple[str, str]:
    """(text with \\n endings, the file's line ending)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeEdit(f"{rel}: not UTF-8 text; refusing to rewrite it") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.replace("\r\n", "\n"), newline


def plan_changes(root: Path, edits: list[Edit]) -> list[FileChange]:
    """Applies ``edits`` in memory; returns one FileChange per touched file. Raises EditError/UnsafeEdit.

    Writes nothing. Several edits to one file apply in order, each to the result of the previous.
    """
    root = Path(root)
    state: dict[str, FileChange] = {}
    texts: dict[str, tuple[str | None, str]] = {}  # rel -> (current text or None if absent, newline)
    for edit in edits:
        rel = safe_path(root, edit.path)
        if rel not in state:
            old, mode = _read_existing(root, rel)
            state[rel] = FileChange(rel, old, old, mode)
            texts[rel] = _decode(old, rel) if old is not None else (None, "\n")
        current, newline = texts[rel]
        if edit.delete:
            if current is None:
                raise EditError(f"{rel}: cannot delete a file that does not exist")
            texts[rel] = (None, newline)
            continue
        if current is None and edit.search and not edit.whole:
            raise EditError(f"{rel}: the file does not exist, so its SEARCH text cannot match")
        texts[rel] = (apply_edit(current or "", Edit(rel, edit.search, edit.replace, whole=edit.whole)), newline)
    changes = []
    for rel, change in state.items():
        text, newline = texts[rel]
        change.new = None if text is None else text.replace("\n", newline).encode("utf-8")
        if change.new != change.old:
            changes.append(change)
    return changes


def unified_diff(changes: list[FileChange]) -> str:
    """A git-style unified diff of ``changes`` that ``git apply`` accepts."""
    out = []
    for c in changes:
        old = (c.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (c.new or b"").decode("utf-8", "replace").splitlines(keepends=True)
        a = f"a/{c.path}" if c.old is not None else "/dev/null"
        b = f"b/{c.path}" if c.new is not None else "/dev/null"
        out.append(f"diff --git a/{c.path} b/{c.path}\n")
        if c.old is None:
            out.append("new file mode 100644\n")
        elif c.new is None:
            out.append(f"deleted file mode {oct(c.mode or 0o100644)[2:]}\n")
        for line in difflib.unified_diff(old, new, a, b, n=3):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# -- git ---------------------------------------------------------------------------------------------
def _git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def is_git_repo(root: Path) -> bool:
    res = _git(root, "rev-parse", "--is-inside-work-tree")
    return bool(res and res.returncode == 0 and res.stdout.strip() == "true")


def dirty_paths(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` with uncommitted changes (modified, staged or untracked) in git."""
    if not paths or not is_git_repo(root):
        return []
    res = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    if res is None or res.returncode != 0:
        return []
    entries = [e for e in res.stdout.split("\0") if e]
    return sorted({e[3:] for e in entries if len(e) > 3} & set(paths))


# -- journal and writes --------------------------------------------------------------------------------
def _journal_root(root: Path) -> Path:
    return root / JOURNAL_DIR


def _write_journal(root: Path, changes: list[FileChange], description: str) -> Path:
    jdir = _journal_root(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    (jdir / "files").mkdir(parents=True)
    manifest = {"description": description, "created": time.time(), "undone": False, "files": []}
    for i, c in enumerate(changes):
        entry = {"path": c.path, "existed": c.old is not None, "mode": c.mode, "blob": None}
        if c.old is not None:
            blob = jdir / "files" / str(i)
            blob.write_bytes(c.old)
            entry["blob"] = f"files/{i}"
        manifest["files"].append(entry)
    tmp = jdir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, jdir / "manifest.json")
    gitignore = root / ".codeassist" / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")
    return jdir


def _atomic_write(full: Path, data: bytes, mode: int | None) -> None:
    full.parent.mkdir(parents=True, exist_ok=True)
    tmp = full.with_name(f".{full.name}.codeassist-tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, full)
    finally:
        if tmp.exists():
            tmp.unlink()


def _restore(root: Path, jdir: Path, entries: list[dict]) -> list[str]:
    """Puts the journaled bytes back for ``entries``; returns the paths restored."""
    restored = []
    for e in entries:
        full = root / e["path"]
        if e["existed"]:
            _atomic_write(full, (jdir / e["blob"]).read_bytes(), e["mode"])
        elif full.exists():
            full.unlink()
        restored.append(e["path"])
    return restored


def write_changes(root: Path, changes: list[FileChange], *, allow_dirty: bool = False,
                  description: str = "", commit: bool = False) -> Path:
    """Writes ``changes`` all-or-nothing after journaling them; returns the journal directory.

    Raises UnsafeEdit for dirty files (unless ``allow_dirty``) and OSError when a write fails (after
    rolling back the files already written).
    """
    root = Path(root)
    for c in changes:
        safe_path(root, c.path)  # re-checked here: the caller may have built changes by hand
    dirty = [] if allow_dirty else dirty_paths(root, [c.path for c in changes if c.old is not None])
    if dirty:
        raise UnsafeEdit(f"uncommitted changes in {', '.join(dirty)}: commit or stash them, or pass --allow-dirty")
    for c in changes:
        if c.old is None and (root / c.path).exists():
            raise UnsafeEdit(f"{c.path}: already exists; refusing to overwrite it as a new file")
    jdir = _write_journal(root, changes, description)
    manifest = json.loads((jdir / "manifest.json").read_text())
    done: list[dict] = []
    try:
        for c, entry in zip(changes, manifest["files"]):
            full = root / c.path
            if c.new is None:
                full.unlink()
            else:
                _atomic_write(full, c.new, c.mode)
            done.append(entry)
    except OSError:
        _restore(root, jdir, done)
        shutil.rmtree(jdir, ignore_errors=True)
        raise
    if commit and is_git_repo(root):
        paths = [c.path for c in changes]
        _git(root, "add", "-A", "--", *paths)
        _git(root, "commit", "-q", "-m", description or "codeassist patch", "--", *paths)
    return jdir


def last_journal(root: Path) -> Path | None:
    """The newest journal that has not been undone yet."""
    jroot = _journal_root(Path(root))
    if not jroot.is_dir():
        return None
    for jdir in sorted(jroot.iterdir(), reverse=True):
        try:
            manifest = json.loads((jdir / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if not manifest.get("undone"):
            return jdir
    return None


def undo(root: Path) -> list[str]:
    """Restores the files the last applied patch changed, created or deleted; returns their paths.

    Raises FileNotFoundError when there is nothing to undo.
    """
    root = Path(root)
    jdir = last_journal(root)
    if jdir is None:
        raise FileNotFoundError(f"nothing to undo in {root}")
    manifest = json.loads((jdir / "manifest.json").read_text())
    restored = _restore(root, jdir, manifest["files"])
    manifest["undone"] = True
    (jdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return restored
