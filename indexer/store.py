"""The on-disk index: one SQLite database per repository (``<repo>/.codeassist/index.sqlite``).

Rows are keyed by repository-relative path and content hash. The database runs in WAL mode so readers
never block the writer, writers take ``BEGIN IMMEDIATE`` with a busy timeout, and whole refreshes are
serialised across processes by an advisory lock file, so two processes indexing one repository at once
wait for each other instead of corrupting it. A database that is corrupt, unreadable or of another
schema version is moved aside and rebuilt with a warning.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

from indexer.parse import Definition, ParsedFile

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # bump on any change to the tables below; older databases are rebuilt
BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another process's transaction

SCHEMA = """
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,      -- repository-relative, forward slashes
    language TEXT NOT NULL,
    hash TEXT NOT NULL,             -- blake2b-128 hex of the content
    size INTEGER NOT NULL,          -- bytes
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    errors INTEGER NOT NULL         -- tree-sitter error nodes (0: parsed cleanly)
);
CREATE TABLE symbols (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_line INTEGER NOT NULL,    -- 1-based, inclusive
    end_line INTEGER NOT NULL,      -- 1-based, inclusive
    start_col INTEGER NOT NULL,     -- 0-based byte column
    signature TEXT NOT NULL,
    scope TEXT NOT NULL
);
CREATE TABLE refs (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE imports (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    spec TEXT NOT NULL              -- as written, "module|name" for Python from-imports
);
"""
# secondary indexes, by name; part of the schema, dropped and rebuilt around a bulk load (``Store.bulk_load``)
INDEXES = {
    "symbols_name": "symbols(name)",
    "symbols_file": "symbols(file_id)",
    "refs_file": "refs(file_id)",
    "imports_file": "imports(file_id)",
}


class IndexBusy(RuntimeError):
    """The database is locked by another process for longer than the busy timeout."""


def _is_busy(e: BaseException) -> bool:
    return isinstance(e, sqlite3.OperationalError) and any(w in str(e) for w in ("locked", "busy"))


class IndexCorrupt(RuntimeError):
    """The database cannot be read; ``Store.open`` handles it by rebuilding."""


@dataclass(frozen=True)
class FileRow:
    id: int
    path: str
    language: str
    hash: str
    size: int
    mtime_ns: int


class FileRows(NamedTuple):
    """One parsed file as ``Store.put_file`` stores it: plain tuples and one JSON text, which a parse worker
    pickles and the main process inserts at a fraction of the cost of a ``ParsedFile``."""

    language: str
    errors: int
    definitions: list[tuple]  # the fields of ``Definition``, in order
    references: str  # JSON object: name -> occurrences in the file
    imports: list[str]


def file_rows(parsed: ParsedFile) -> FileRows:
    return FileRows(
        parsed.language, parsed.errors, [tuple(d) for d in parsed.definitions], json.dumps(parsed.references), parsed.imports,
    )


class Store:
    """A connection to one repository's index database."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.conn = self._connect()
        self.has_json = _has_json(self.conn)  # SQLite's JSON functions (built in since 3.38, usually before)

    @classmethod
    def open(cls, db_path: Path) -> "Store":
        """Opens (creating or rebuilding as needed) the database at ``db_path``."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        _ignore_in_git(db_path.parent)
        store = None
        try:
            store = cls(db_path)
            store._check_schema()
            return store
        except (sqlite3.DatabaseError, IndexCorrupt) as e:
            if store is not None:
                store.close()
            if _is_busy(e):
                # another process holds the database: it is in use, not corrupt
                raise IndexBusy(f"the index {db_path} is locked by another process; try again") from e
            log.warning("index %s is unusable (%s); rebuilding it", db_path, e)
            _move_aside(db_path)
            store = cls(db_path)
            store._check_schema()
            return store

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Two processes creating the same new database race to switch it to WAL; SQLite answers "locked" at
        # once there instead of waiting for its busy handler, so wait here, within the same timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _check_schema(self) -> None:
        self.conn.execute("BEGIN")  # one read snapshot: another process may be creating the schema
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                self.conn.execute("SELECT count(*) FROM files").fetchone()
                return
            tables = [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        finally:
            self.conn.execute("COMMIT")
        if tables:
            raise IndexCorrupt(f"schema version {version}, expected {SCHEMA_VERSION}")
        with self.write() as c:
            if c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # another process created it while we waited for the write lock
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            self._create_indexes()
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def bulk_load(self) -> Iterator[bool]:
        """Inside ``write()``: when the index holds no files, drops the secondary indexes until the block ends
        and then builds each in one sort, instead of one b-tree insert per row (a cold index of the CPython
        standard library: ~20% less SQLite CPU). Yields whether it did. An error inside the block leaves the
        indexes dropped, for ``write()``'s rollback to restore."""
        empty = self.conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
        if empty:
            for name in INDEXES:
                self.conn.execute(f"DROP INDEX {name}")
        yield empty
        if empty:
            self._create_indexes()

    def _create_indexes(self) -> None:
        for name, columns in INDEXES.items():
            self.conn.execute(f"CREATE INDEX {name} ON {columns}")

    @contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """Serialises whole refreshes across processes (advisory ``flock`` on ``index.lock``)."""
        with open(self.db_path.with_name("index.lock"), "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- reads ---------------------------------------------------------------------------------------
    def files(self) -> dict[str, FileRow]:
        rows = self.conn.execute("SELECT id, path, language, hash, size, mtime_ns FROM files")
        return {r[1]: FileRow(*r) for r in rows}

    def definitions_named(self, name: str) -> list[tuple[str, Definition]]:
        rows = self.conn.execute(
            "SELECT f.path, s.name, s.kind, s.start_line, s.end_line, s.start_col, s.signature, s.scope "
            "FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.name = ? ORDER BY f.path, s.start_line",
            (name,),
        )
        return [(r[0], Definition(*r[1:])) for r in rows]

    def all_definitions(self) -> Iterator[tuple[str, Definition]]:
        rows = self.conn.execute(
            "SELECT f.path, s.name, s.kind, s.start_line, s.end_line, s.start_col, s.signature, s.scope "
            "FROM symbols s JOIN files f ON f.id = s.file_id"
        )
        for r in rows:
            yield r[0], Definition(*r[1:])

    def all_references(self) -> Iterator[tuple[str, str, int]]:
        yield from self.conn.execute("SELECT f.path, r.name, r.count FROM refs r JOIN files f ON f.id = r.file_id")

    def all_imports(self) -> Iterator[tuple[str, str]]:
        yield from self.conn.execute("SELECT f.path, i.spec FROM imports i JOIN files f ON f.id = i.file_id")

    def stats(self) -> dict:
        c = self.conn
        langs = dict(c.execute("SELECT language, count(*) FROM files GROUP BY language ORDER BY 2 DESC").fetchall())
        return {
            "files": c.execute("SELECT count(*) FROM files").fetchone()[0],
            "symbols": c.execute("SELECT count(*) FROM symbols").fetchone()[0],
            "languages": langs,
        }

    # -- writes (inside ``write()``) ----------------------------------------------------------------
    def put_file(self, path: str, hash_: str, size: int, mtime_ns: int, lines: int, rows: FileRows) -> None:
        """Replaces a file's rows; ``size`` in bytes, ``lines`` counted as newlines + 1."""
        c = self.conn
        c.execute("DELETE FROM files WHERE path = ?", (path,))
        cur = c.execute(
            "INSERT INTO files(path, language, hash, size, mtime_ns, lines, errors) VALUES (?,?,?,?,?,?,?)",
            (path, rows.language, hash_, size, mtime_ns, lines, rows.errors),
        )
        fid = cur.lastrowid
        c.executemany("INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?)", [(fid, *d) for d in rows.definitions])
        if self.has_json:  # one statement per file: no Python tuple per reference
            c.execute("INSERT INTO refs SELECT ?, key, value FROM json_each(?)", (fid, rows.references))
        else:
            c.executemany("INSERT INTO refs VALUES (?,?,?)", [(fid, n, k) for n, k in json.loads(rows.references).items()])
        c.executemany("INSERT INTO imports VALUES (?,?)", [(fid, s) for s in rows.imports])

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Records a new stat for a file whose content hash did not change."""
        self.conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def delete_files(self, paths: list[str]) -> None:
        self.conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])


def _has_json(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT json_valid('{}')").fetchone()[0] == 1
    except sqlite3.OperationalError:  # no such function: a build without JSON1
        return False


def _move_aside(db_path: Path) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        if db_path.exists():
            os.replace(db_path, db_path.with_name(f"{db_path.name}.corrupt-{stamp}"))
        for suffix in ("-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
    except OSError as e:
        log.warning("could not move %s aside: %s", db_path, e)


def _ignore_in_git(directory: Path) -> None:
    """Keeps the index folder out of ``git status`` and the untracked-file listing."""
    marker = directory / ".gitignore"
    if not marker.exists():
        try:
            marker.write_text("*\n")
        except OSError:
            pass
