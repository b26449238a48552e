"""The SQLite store: rebuilding unusable databases, and several processes indexing one repository at once."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import traceback
from pathlib import Path

import pytest

from indexer import store as store_module
from indexer.index import DB_FILENAME, INDEX_DIRNAME, Index
from indexer.store import IndexBusy, SCHEMA_VERSION, Store
from indexer_helpers import init_git, write_tree

FILES = {
    "a.py": "def alpha():\n    return 1\n",
    "b.py": "class Beta:\n    pass\n",
}


def db_of(root: Path) -> Path:
    return root / INDEX_DIRNAME / DB_FILENAME


def moved_aside(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.corrupt-*"))


def rebuild_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "indexer.store" and r.levelno == logging.WARNING]


@pytest.fixture
def indexed(make_repo):
    root = make_repo(FILES)
    with Index(root) as idx:
        assert idx.refresh().files == 2
    return root


def test_fresh_index_has_current_schema(indexed):
    conn = sqlite3.connect(db_of(indexed))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_corrupt_database_is_rebuilt(indexed, caplog):
    db = db_of(indexed)
    db.write_bytes(b"this is not an sqlite database\x00\xff" * 200)
    caplog.set_level(logging.WARNING, logger="indexer.store")
    with Index(indexed) as idx:
        s = idx.refresh()
        assert (s.files, s.reparsed) == (2, 2)
        assert [p for p, _ in idx.symbols("alpha")] == ["a.py"]
    warnings = rebuild_warnings(caplog)
    assert len(warnings) == 1 and "rebuilding" in warnings[0]
    assert len(moved_aside(db)) == 1
    with Index(indexed) as idx:  # and the rebuilt database is kept
        assert idx.refresh().reparsed == 0
    assert len(rebuild_warnings(caplog)) == 1


def test_truncated_database_is_rebuilt(indexed, caplog):
    db = db_of(indexed)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    caplog.set_level(logging.WARNING, logger="indexer.store")
    with Index(indexed) as idx:
        assert idx.refresh().files == 2
    assert len(rebuild_warnings(caplog)) == 1


@pytest.mark.parametrize("version", [1, SCHEMA_VERSION + 1])
def test_database_of_another_schema_version_is_rebuilt(indexed, caplog, version):
    db = db_of(indexed)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()
    caplog.set_level(logging.WARNING, logger="indexer.store")
    with Index(indexed) as idx:
        s = idx.refresh()
        assert (s.files, s.reparsed) == (2, 2)  # rebuilt from scratch
        assert idx.store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    warnings = rebuild_warnings(caplog)
    assert len(warnings) == 1 and f"schema version {version}" in warnings[0]


def test_database_missing_a_table_is_rebuilt(indexed, caplog):
    conn = sqlite3.connect(db_of(indexed))
    conn.execute("DROP TABLE files")
    conn.close()
    caplog.set_level(logging.WARNING, logger="indexer.store")
    with Index(indexed) as idx:
        assert idx.refresh().files == 2
    assert len(rebuild_warnings(caplog)) == 1


class _RacingConnection:
    """A connection where another process finishes creating the schema right after our first version check."""

    def __init__(self, conn: sqlite3.Connection, db: Path):
        self._conn, self._db, self._raced = conn, db, False

    def execute(self, sql, *args):
        cur = self._conn.execute(sql, *args)
        if sql.strip() == "PRAGMA user_version" and not self._raced:
            self._raced = True
            rows = cur.fetchall()
            Store.open(self._db).close()  # the other process, unpatched
            return _Rows(rows)
        return cur

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _Rows:
    """The rows of the version check, read before the other process ran."""

    def __init__(self, rows):
        self._rows = rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


def test_schema_created_concurrently_is_not_thrown_away(tmp_path, monkeypatch, caplog):
    """Two processes opening a new index: the one that loses the race to create the schema must use it,
    not mistake it for a foreign schema and move the winner's database aside."""
    db = tmp_path / INDEX_DIRNAME / DB_FILENAME
    real_connect = Store._connect
    patched: list[bool] = []

    def connect(self):
        conn = real_connect(self)
        if patched:
            return conn
        patched.append(True)
        return _RacingConnection(conn, self.db_path)

    monkeypatch.setattr(Store, "_connect", connect)
    caplog.set_level(logging.WARNING, logger="indexer.store")
    store = Store.open(db)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()
    assert rebuild_warnings(caplog) == []
    assert moved_aside(db) == []


def test_busy_database_is_not_mistaken_for_a_corrupt_one(tmp_path, monkeypatch):
    """Another process is creating the database and holds its lock past our busy timeout: waiting or failing
    are both fine, but moving its database aside (and deleting its journal) loses its work."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    db = tmp_path / INDEX_DIRNAME / DB_FILENAME
    db.parent.mkdir()
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE precious (x INTEGER)")
        holder.execute("INSERT INTO precious VALUES (42)")
        try:
            Store.open(db).close()
        except IndexBusy:
            pass  # "locked by another process": the caller may retry
        holder.execute("COMMIT")  # fails with "disk I/O error" when its files were moved away underneath it
    finally:
        holder.close()
    assert moved_aside(db) == []
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT x FROM precious").fetchall() == [(42,)]
    finally:
        conn.close()


# -- bulk load ---------------------------------------------------------------------------------------------
def index_names(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        conn.close()


def test_cold_refresh_rebuilds_the_indexes_it_dropped(indexed):
    db = db_of(indexed)
    assert index_names(db) == set(store_module.INDEXES)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT * FROM symbols WHERE name = 'alpha'"))
        assert "symbols_name" in plan
    finally:
        conn.close()


def test_bulk_load_only_when_the_index_is_empty(indexed):
    store = Store.open(db_of(indexed))
    try:
        with store.write(), store.bulk_load() as dropped:
            assert not dropped
            assert store.conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchone()[0] == 4
    finally:
        store.close()


@pytest.mark.parametrize("json_each", [True, False], ids=["json_each", "executemany"])
def test_references_are_stored_the_same_with_or_without_sqlite_json(make_repo, json_each):
    root = make_repo({"u.py": "café = 1\nprint(café, café)\ns = 'not a reference'\n", "v.py": "pass\n"})
    with Index(root) as idx:
        if json_each and not idx.store.has_json:
            pytest.skip("this SQLite has no JSON functions")
        idx.store.has_json = json_each
        idx.refresh()
        assert sorted(idx.store.all_references()) == [("u.py", "café", 3), ("u.py", "print", 1), ("u.py", "s", 1)]
        types = idx.store.conn.execute("SELECT DISTINCT typeof(name), typeof(count) FROM refs").fetchall()
        assert types == [("text", "integer")]


class Stop(Exception):
    pass


def test_cancelled_cold_refresh_keeps_the_indexes(make_repo):
    root = make_repo({f"m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(100)})

    def cancel(done, total):
        if done >= 10:
            raise Stop

    with Index(root) as idx:
        with pytest.raises(Stop):
            idx.refresh(cancel, workers=1)
        assert idx.store.stats()["files"] == 0
    assert index_names(db_of(root)) == set(store_module.INDEXES)  # the rollback restored what bulk_load dropped
    with Index(root) as idx:
        assert idx.refresh().files == 100
        assert [p for p, _ in idx.symbols("f7")] == ["m7.py"]


# -- several processes -------------------------------------------------------------------------------------
N_FILES = 200


def _generated_repo(root: Path) -> Path:
    files = {}
    for i in range(N_FILES):
        files[f"pkg{i % 10}/mod_{i:03d}.py"] = (
            f'"""Module {i}."""\n\n\nclass Thing{i}:\n    def run_{i}(self):\n        return helper_{i}()\n\n\n'
            f"def helper_{i}():\n    return {i}\n"
        )
    write_tree(root, files)
    return init_git(root)


def _refresh_worker(root: str, barrier, results) -> None:
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    logging.getLogger("indexer").addHandler(Collect())
    try:
        barrier.wait(timeout=30)
        with Index(root) as idx:
            s = idx.refresh()
        results.put(("ok", s.files, s.reparsed, warnings))
    except BaseException:  # reported to the parent, which fails the test with it
        results.put(("error", traceback.format_exc(), 0, warnings))


def _run_concurrently(target, args_per_process: list[tuple], timeout: float = 60) -> list[tuple]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(args_per_process))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_per_process]
    for p in procs:
        p.start()
    out = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=timeout)
        assert p.exitcode == 0
    return out


@pytest.mark.parametrize("existing_db", [True, False], ids=["existing-db", "new-db"])
def test_two_processes_index_one_repository(tmp_path, existing_db):
    """Both refreshes succeed and leave one sound database; with ``new-db`` they also race to create it."""
    root = _generated_repo(tmp_path / "big")
    if existing_db:
        Index(root).close()  # creates the empty database, so only the refreshes overlap
    results = _run_concurrently(_refresh_worker, [(str(root),), (str(root),)])
    errors = [r[1] for r in results if r[0] != "ok"]
    assert errors == [], "\n".join(errors)
    assert [r[1] for r in results] == [N_FILES, N_FILES]
    # refreshes are serialised: one process parses everything, the other finds it done
    assert sorted(r[2] for r in results) == [0, N_FILES]
    assert [w for r in results for w in r[3]] == []  # nothing was "rebuilt" on the way
    db = db_of(root)
    assert moved_aside(db) == []
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == N_FILES
        assert conn.execute("SELECT count(*) FROM symbols").fetchone()[0] == 3 * N_FILES
    finally:
        conn.close()
    with Index(root) as idx:
        assert idx.refresh().reparsed == 0
