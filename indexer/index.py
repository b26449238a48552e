"""``Index``: a repository's symbol index, kept fresh incrementally, with in-memory editor buffers.

``refresh`` re-parses only files whose content hash changed (files whose size and mtime are unchanged
are not even read), drops deleted files, and parses in a process pool on all cores when there is enough
work. ``update_buffer`` parses unsaved text into an in-memory overlay that ranking sees but the disk
never does. ``snapshot`` gives ranking one consistent, cached view of everything.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from indexer import discover as disc
from indexer.imports import ImportResolver
from indexer.languages import language_for_path
from indexer.parse import Definition, ParsedFile, parse_source
from indexer.store import Store, file_rows

log = logging.getLogger(__name__)

INDEX_DIRNAME = ".codeassist"
DB_FILENAME = "index.sqlite"
POOL_MIN_FILES = 64  # below this many files to read, parsing in-process beats starting workers
POOL_CHUNK = 16  # files per task sent to a worker

ProgressFn = Callable[[int, int], None]  # (files done, files total)


class IndexError_(ValueError):
    """Bad input to the index: not a directory, a path outside the repository, an unknown language."""


@dataclass
class RefreshStats:
    files: int
    symbols: int
    languages: dict[str, int]
    seconds: float
    reparsed: int
    removed: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files not indexed


@dataclass
class Snapshot:
    """Everything ranking needs, read once from the store and the buffer overlay (all paths relative)."""

    generation: tuple
    languages: dict[str, str]  # path -> language
    definitions: dict[str, list[Definition]]  # path -> its definitions
    references: dict[str, dict[str, int]]  # path -> name -> count
    imports: dict[str, list[str]]  # path -> resolved imported paths


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _read_and_parse(job: tuple[str, str, str, str | None]) -> tuple:
    """Worker: (root, path, language, old hash) -> (path, status, hash, lines, rows, size, mtime_ns).

    rows is the parse as ``store.FileRows`` (cheap to pickle back from a worker process), or None.

    status is "parsed", "same" (content unchanged), or a skip reason ("binary", "gone", ...).
    """
    root, path, language, old_hash = job
    full = os.path.join(root, path)
    try:
        st = os.stat(full)
        with open(full, "rb") as f:
            data = f.read()
    except OSError:
        return path, "gone", None, 0, None, 0, 0
    h = content_hash(data)
    if h == old_hash:
        return path, "same", h, 0, None, st.st_size, st.st_mtime_ns
    reason = disc.check_content(data)
    if reason:
        return path, reason, h, 0, None, st.st_size, st.st_mtime_ns
    rows = file_rows(parse_source(data, language))
    return path, "parsed", h, data.count(b"\n") + 1, rows, st.st_size, st.st_mtime_ns


class Index:
    """The symbol index of one repository rooted at ``root``."""

    def __init__(self, root: Path | str, *, db_path: Path | None = None, max_bytes: int = disc.DEFAULT_MAX_BYTES):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise IndexError_(f"{root} is not a directory")
        self.root = root.resolve()
        self.max_bytes = max_bytes
        self.store = Store.open(db_path or self.root / INDEX_DIRNAME / DB_FILENAME)
        self.buffers: dict[str, tuple[str, ParsedFile]] = {}  # path -> (text, parse) of unsaved buffers
        self._buffer_version = 0
        self._snapshot: Snapshot | None = None
        self._disk: Snapshot | None = None  # the database's view alone (see snapshot)
        self._disk_resolver: ImportResolver | None = None
        self._disk_raw_imports: dict[str, list[str]] = {}

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- paths ---------------------------------------------------------------------------------------
    def relpath(self, path: str | Path) -> str:
        """Repository-relative POSIX path of ``path`` (absolute or relative to the root).

        Raises IndexError_ for paths that leave the repository, symlinks included.
        """
        p = Path(path)
        full = p if p.is_absolute() else self.root / p
        if not disc.is_inside(self.root, full):
            raise IndexError_(f"{path} is outside the repository {self.root}")
        try:
            return full.resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise IndexError_(f"{path} is outside the repository {self.root}") from None

    # -- building ------------------------------------------------------------------------------------
    def refresh(self, progress: ProgressFn | None = None, *, workers: int | None = None) -> RefreshStats:
        """Brings the on-disk index up to date with the files on disk; returns what it did."""
        t0 = time.perf_counter()
        with self.store.refresh_lock():
            candidates = disc.discover(self.root, max_bytes=self.max_bytes)
            known = self.store.files()
            present = {c.path for c in candidates}
            removed = [p for p in known if p not in present]
            jobs = []
            for c in candidates:
                row = known.get(c.path)
                if row and row.size == c.size and row.mtime_ns == c.mtime_ns and row.language == c.language:
                    continue
                jobs.append((str(self.root), c.path, c.language, row.hash if row and row.language == c.language else None))
            reparsed = 0
            skipped: dict[str, int] = {}
            with self.store.write(), self.store.bulk_load():
                self.store.delete_files(removed)
                for path, status, h, lines, rows, size, mtime in self._run_jobs(jobs, progress, workers):
                    if status == "parsed":
                        self.store.put_file(path, h, size, mtime, lines, rows)
                        reparsed += 1
                    elif status == "same":
                        self.store.touch_file(path, size, mtime)
                    else:
                        skipped[status] = skipped.get(status, 0) + 1
                        if path in known:
                            self.store.delete_files([path])
        stats = self.store.stats()
        return RefreshStats(
            files=stats["files"], symbols=stats["symbols"], languages=stats["languages"],
            seconds=time.perf_counter() - t0, reparsed=reparsed, removed=len(removed), skipped=skipped,
        )

    def _run_jobs(self, jobs: list, progress: ProgressFn | None, workers: int | None):
        total = len(jobs)
        if progress:
            progress(0, total)
        workers = workers or os.cpu_count() or 1
        if total < POOL_MIN_FILES or workers <= 1:
            for i, job in enumerate(jobs, 1):
                yield _read_and_parse(job)
                if progress:
                    progress(i, total)
            return
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        try:
            for i, result in enumerate(pool.map(_read_and_parse, jobs, chunksize=POOL_CHUNK), 1):
                yield result
                if progress:
                    progress(i, total)
        finally:
            # a progress callback that raises (cancellation) must not wait for the remaining files
            pool.shutdown(wait=True, cancel_futures=True)

    def update_file(self, path: str | Path) -> bool:
        """Re-indexes one file from disk (e.g. after a save); returns True when its content changed."""
        rel = self.relpath(path)
        lang = language_for_path(rel)
        if lang is None:
            return False
        known = self.store.files().get(rel)
        if not disc.is_candidate(self.root, rel, max_bytes=self.max_bytes):
            if known:  # deleted, now ignored, grown too big...: gone from the index as a refresh would do
                with self.store.write():
                    self.store.delete_files([rel])
            self.buffers.pop(rel, None)
            return known is not None
        res = _read_and_parse((str(self.root), rel, lang.name, known.hash if known else None))
        _, status, h, lines, rows, size, mtime = res
        with self.store.write():
            if status == "parsed":
                self.store.put_file(rel, h, size, mtime, lines, rows)
            elif status == "same":
                self.store.touch_file(rel, size, mtime)
            else:
                self.store.delete_files([rel])
        self.buffers.pop(rel, None)
        return status == "parsed" or status != "same"

    def update_buffer(self, path: str | Path, text: str) -> ParsedFile | None:
        """Parses an unsaved editor buffer into the in-memory overlay; the disk is not touched.

        Returns the parse, or None for a language the indexer does not handle.
        """
        rel = self.relpath(path)
        lang = language_for_path(rel)
        if lang is None:
            return None
        parsed = parse_source(text.encode("utf-8", errors="surrogatepass"), lang.name)
        self.buffers[rel] = (text, parsed)
        self._buffer_version += 1
        return parsed

    def drop_buffer(self, path: str | Path) -> None:
        """Forgets an unsaved buffer (the editor closed it); ranking sees the on-disk file again."""
        if self.buffers.pop(self.relpath(path), None) is not None:
            self._buffer_version += 1

    # -- reading -------------------------------------------------------------------------------------
    def read_text(self, rel: str) -> str:
        """The current text of a file: the unsaved buffer when there is one, else the disk (UTF-8, lenient)."""
        if rel in self.buffers:
            return self.buffers[rel][0]
        return self.read_disk_text(rel)

    def read_disk_text(self, rel: str) -> str:
        """A file's text on disk, ignoring any unsaved buffer (UTF-8, lenient)."""
        return (self.root / rel).read_bytes().decode("utf-8", errors="replace")

    def symbols(self, name: str) -> list[tuple[str, Definition]]:
        """Definitions named ``name`` as (path, definition), sorted by path and line; buffers win over disk."""
        rows = [(p, d) for p, d in self.store.definitions_named(name) if p not in self.buffers]
        for p, (_, parsed) in self.buffers.items():
            rows.extend((p, d) for d in parsed.definitions if d.name == name)
        return sorted(rows, key=lambda r: (r[0], r[1].start_line))

    def generation(self) -> tuple[int, int, int]:
        """Changes whenever the index or a buffer changes: (other connections' commits, ours, buffers)."""
        conn = self.store.conn
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes, self._buffer_version

    def snapshot(self) -> Snapshot:
        """A consistent in-memory view for ranking; cached until the database or a buffer changes.

        The on-disk part is read from the database only when the database changed; a buffer edit (every
        keystroke in an editor) lays the buffers over the cached disk view and resolves only their imports.
        """
        gen = self.generation()
        if self._snapshot is not None and self._snapshot.generation == gen:
            return self._snapshot
        disk = self.disk_snapshot()
        if not self.buffers:
            self._snapshot = Snapshot(gen, disk.languages, disk.definitions, disk.references, disk.imports)
            return self._snapshot
        languages, definitions = dict(disk.languages), dict(disk.definitions)
        references, imports = dict(disk.references), dict(disk.imports)
        for path, (_, parsed) in self.buffers.items():
            languages[path] = parsed.language
            definitions[path] = parsed.definitions
            references[path] = parsed.references
        # a buffer not on disk is a new module others may import: resolve everything again, as from disk
        new_paths = any(path not in disk.languages for path in self.buffers)
        resolver = ImportResolver(list(languages), self.root) if new_paths else self._disk_resolver
        if new_paths:
            imports = {p: self._resolve(resolver, p, languages[p], specs) for p, specs in self._disk_raw_imports.items()}
        for path, (_, parsed) in self.buffers.items():
            imports[path] = self._resolve(resolver, path, parsed.language, parsed.imports)
        self._snapshot = Snapshot(gen, languages, definitions, references, imports)
        return self._snapshot

    @staticmethod
    def _resolve(resolver: ImportResolver, path: str, language: str, specs: list[str]) -> list[str]:
        return sorted({t for spec in specs for t in resolver.resolve(path, language, spec) if t != path})

    def disk_snapshot(self) -> Snapshot:
        """The view of the database alone (no buffers), re-read only when the database changed."""
        gen = self.generation()
        if self._disk is not None and self._disk.generation[:2] == gen[:2]:
            return self._disk
        s = self.store
        files = s.files()
        languages = {p: r.language for p, r in files.items()}
        definitions: dict[str, list[Definition]] = {}
        for path, d in s.all_definitions():
            definitions.setdefault(path, []).append(d)
        references: dict[str, dict[str, int]] = {}
        for path, name, count in s.all_references():
            references.setdefault(path, {})[name] = count
        raw_imports: dict[str, list[str]] = {}
        for path, spec in s.all_imports():
            raw_imports.setdefault(path, []).append(spec)
        resolver = ImportResolver(list(languages), self.root)
        imports = {path: self._resolve(resolver, path, languages[path], specs) for path, specs in raw_imports.items()}
        self._disk, self._disk_resolver, self._disk_raw_imports = Snapshot(gen, languages, definitions, references, imports), resolver, raw_imports
        return self._disk
