"""Ranking what matters for a cursor: a file graph, personalised PageRank, scored definitions, snippets.

The steps read as the pipeline: ``build_graph`` (files as nodes; edges from a file to the files defining
the names it references, and to the files it imports) → ``personalise`` (toward the current file, the
files it imports, and the definers of identifiers near the cursor) → ``pagerank`` → ``score_definitions``
(each file's rank flows along its edges to the definitions it uses) → ``fit_snippets`` (definition spans
read from the files, merged, within a token budget).

Lines are 1-based and inclusive throughout.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from scipy import sparse

from indexer.index import Index, Snapshot
from indexer.parse import Definition

# -- edge weights: how strongly a reference or import ties one file to another -----------------------
IMPORT_EDGE_WEIGHT = 2.0  # importing a file ties to it as much as using two distinctive names from it
REFERENCE_EDGE_WEIGHT = 1.0  # one distinctive name referenced once
PRIVATE_NAME_FACTOR = 0.1  # names starting with "_" are usually local helpers, weakly informative
SHORT_NAME_FACTOR = 0.1  # names shorter than SHORT_NAME_CHARS (i, x, db) match by accident
SHORT_NAME_CHARS = 3
LONG_NAME_FACTOR = 3.0  # long compound names (snake_case or camelCase, >= 8 chars) are distinctive
COMMON_NAME_DEFINERS = 5  # a name defined in more files than this (get, run, __init__) ...
COMMON_NAME_FACTOR = 0.1  # ... says little about which of them is meant
STOP_NAMES = frozenset(  # receivers and builtin type names: a file "defining" them is almost never meant
    "self cls this super str int float bool bytes list dict set tuple object type len print range "
    "None True False nil null undefined string number any void error err ctx args kwargs".split()
)
TEST_FILE_FACTOR = 0.3  # definitions in test files, when the current file is not a test
IMPORTED_DEFINER_BOOST = 5.0  # of several files defining a name, the one the current file imports

# -- personalisation: where the random surfer restarts -------------------------------------------------
CURRENT_FILE_RESTART = 1.0  # the file being edited
IMPORTED_FILE_RESTART = 0.5  # each file the current file imports (split among them)
CURSOR_DEFINER_RESTART = 1.0  # the files defining identifiers near the cursor (split among them)

# -- definition scores -----------------------------------------------------------------------------------
CURSOR_NAME_BOOST = 10.0  # a definition of an identifier within CURSOR_WINDOW_LINES of the cursor
CURRENT_FILE_NAME_BOOST = 2.0  # a definition of a name the current file uses
CURSOR_WINDOW_LINES = 8  # lines above the cursor (and half as many below) whose identifiers count
DAMPING = 0.85  # PageRank's probability of following an edge rather than restarting
PAGERANK_TOLERANCE = 1e-8  # L1 change at which power iteration stops
PAGERANK_MAX_ITERATIONS = 100

# -- snippets ------------------------------------------------------------------------------------------
MAX_SNIPPET_LINES = 60  # a long definition is cut to its first lines (signature, docstring, start of body)
LOW_VALUE_KINDS = {"variable": 0.3, "field": 0.2, "constant": 0.5}  # score factors for data definitions
IMPORTED_FILE_SHARE = 0.5  # of an imported file's rank, spread over its top-level definitions
MIN_SCORE_RATIO = 0.02  # snippets scoring below this share of the best one are noise, not context
MAX_CANDIDATES = 400  # scored definitions fit_snippets considers, best first
MAX_OUTLINE_MEMBERS = 12  # member signatures in the outline of a definition too long to quote whole

# Names only link files whose languages can see each other's definitions.
LANGUAGE_FAMILY = {"typescript": "js", "tsx": "js", "javascript": "js", "c": "c", "cpp": "c"}


def family(language: str) -> str:
    return LANGUAGE_FAMILY.get(language, language)

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (tokens ≈ bytes / 3.5, rounded up), used when no tokenizer is given."""
    return math.ceil(len(text.encode("utf-8")) / 3.5)


@dataclass(frozen=True)
class Snippet:
    path: str  # repository-relative
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str
    score: float
    reason: str
    tokens: int  # as counted by the TokenCounter used to fit the budget


@dataclass
class Graph:
    """The file graph of one snapshot; rebuilt only when the snapshot changes."""

    files: list[str]
    file_index: dict[str, int]
    transition: sparse.csr_matrix  # (N, N): column-stochastic over files with out-edges
    dangling: np.ndarray  # (N,) bool: files with no out-edges
    symbol_keys: list[tuple[str, str]]  # (definer path, name) per row of symbol_flow
    symbol_flow: sparse.csr_matrix  # (S, N): share of each file's rank that flows to each symbol
    definers: dict[str, list[str]]  # name -> files defining it


def name_weight(name: str, definer_count: int) -> float:
    """How much a reference to ``name`` says about the files defining it (see the named factors)."""
    if name in STOP_NAMES:
        return 0.0
    w = REFERENCE_EDGE_WEIGHT
    if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
        w *= PRIVATE_NAME_FACTOR
    if len(name) < SHORT_NAME_CHARS:
        w *= SHORT_NAME_FACTOR
    elif len(name) >= 8 and ("_" in name.strip("_") or re.search(r"[a-z][A-Z]", name)):
        w *= LONG_NAME_FACTOR
    if definer_count > COMMON_NAME_DEFINERS:
        w *= COMMON_NAME_FACTOR
    return w / definer_count


def build_graph(snap: Snapshot) -> Graph:
    """Files as nodes, weighted edges from references to definitions and from importers to imports."""
    files = sorted(snap.languages)
    index = {p: i for i, p in enumerate(files)}
    definers: dict[str, list[str]] = {}
    for path, defs in snap.definitions.items():
        for name in {d.name for d in defs}:
            definers.setdefault(name, []).append(path)
    rows, cols, vals = [], [], []  # edge src -> dst
    sym_keys: dict[tuple[str, str], int] = {}
    s_rows, s_cols, s_vals = [], [], []
    for src, refs in snap.references.items():
        si = index.get(src)
        if si is None:
            continue
        src_family = family(snap.languages.get(src, ""))
        for name, count in refs.items():
            targets = [t for t in definers.get(name, ()) if family(snap.languages[t]) == src_family]
            if not targets:
                continue
            w = name_weight(name, len(targets)) * math.sqrt(count)
            if w == 0.0:
                continue
            for dst in targets:
                if dst == src:
                    continue
                rows.append(si), cols.append(index[dst]), vals.append(w)
                key = sym_keys.setdefault((dst, name), len(sym_keys))
                s_rows.append(key), s_cols.append(si), s_vals.append(w)
    for src, targets in snap.imports.items():
        si = index.get(src)
        for dst in targets:
            if si is not None and dst in index:
                rows.append(si), cols.append(index[dst]), vals.append(IMPORT_EDGE_WEIGHT)
    n = len(files)
    adj = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))  # duplicates summed
    out = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    transition = (sparse.diags(inv) @ adj).T.tocsr()  # column j: where file j's rank goes
    flow = sparse.csr_matrix((s_vals, (s_rows, s_cols)), shape=(len(sym_keys), n)) @ sparse.diags(inv)
    return Graph(files, index, transition, out == 0, list(sym_keys), flow.tocsr(), definers)


def cursor_identifiers(text: str, line: int, window: int = CURSOR_WINDOW_LINES) -> list[str]:
    """Identifiers near a cursor on 1-based ``line`` of ``text``, nearest lines first, deduplicated."""
    lines = text.split("\n")
    idx = max(0, min(line - 1, len(lines) - 1))
    near = range(max(0, idx - window), min(len(lines), idx + window // 2 + 1))
    order = sorted(near, key=lambda i: (abs(i - idx), i))
    names: dict[str, None] = {}
    for i in order:
        for m in IDENTIFIER_RE.findall(lines[i]):
            names.setdefault(m, None)
    return list(names)


def personalise(graph: Graph, snap: Snapshot, current: str | None, focus: Iterable[str]) -> np.ndarray:
    """The restart distribution (N,) toward the current file, its imports and definers of ``focus``."""
    p = np.zeros(len(graph.files))
    if current in graph.file_index:
        p[graph.file_index[current]] += CURRENT_FILE_RESTART
        imported = [graph.file_index[t] for t in snap.imports.get(current, ()) if t in graph.file_index]
        for i in imported:
            p[i] += IMPORTED_FILE_RESTART / len(imported)
    focus = [name for name in focus if name not in STOP_NAMES]
    fam = family(snap.languages.get(current, "")) if current else None
    focus_definers = [
        f for name in focus for f in graph.definers.get(name, ())
        if f != current and (fam is None or family(snap.languages[f]) == fam)
    ]
    for f in focus_definers:
        p[graph.file_index[f]] += CURSOR_DEFINER_RESTART / len(focus_definers)
    total = p.sum()
    return p / total if total > 0 else np.full(len(graph.files), 1.0 / max(1, len(graph.files)))


def pagerank(graph: Graph, restart: np.ndarray) -> np.ndarray:
    """Personalised PageRank by power iteration; dangling files restart by ``restart``. Sums to 1."""
    r = restart.copy()
    for _ in range(PAGERANK_MAX_ITERATIONS):
        nxt = DAMPING * (graph.transition @ r + r[graph.dangling].sum() * restart) + (1 - DAMPING) * restart
        if np.abs(nxt - r).sum() < PAGERANK_TOLERANCE:
            return nxt
        r = nxt
    return r


def score_definitions(
    graph: Graph, snap: Snapshot, rank: np.ndarray, current: str | None, focus: Iterable[str], *,
    table: DefTable, limit: int, skip: Iterable[str] = (),
) -> list[tuple[float, str, Definition, str]]:
    """The best ``limit`` (score, path, definition, reason) for definitions outside the current file and
    ``skip``, best first.

    Each definition's score is its file's rank flowing to it along reference edges, adjusted by the named
    factors (see ``_score_python``, which computes it one definition at a time). Files without an unsaved
    buffer are scored as arrays over ``table`` (built once per graph); only the best ``limit`` become tuples.
    """
    skip = set(skip)
    focus = list(dict.fromkeys(focus))
    buffered = [p for p in snap.definitions if p not in table.path_id or p in table.stale]
    out = [t for t in _score_python(graph, snap, rank, current, focus, buffered) if t[1] not in skip]
    out += table.score(graph, snap, rank, current, focus, skip | set(buffered), limit)
    out.sort(key=_order)
    return out[:limit]


def _order(t: tuple) -> tuple:
    return -t[0], t[1], t[2].start_line


class DefTable:
    """``score_definitions``' inputs per definition of the files on disk, as arrays (built once per graph).

    ``stale`` holds the paths whose definitions in later snapshots may differ (unsaved buffers): the caller
    scores those one at a time instead.
    """

    def __init__(self, graph: Graph, disk: Snapshot, buffers: Iterable[str]):
        self.stale = set(buffers)
        self.paths = sorted(disk.definitions)  # so a path's id is also its place in path order
        self.path_id = {p: i for i, p in enumerate(self.paths)}
        self.defs: list[Definition] = []
        def_path, names = [], []
        for path, defs in disk.definitions.items():
            self.defs.extend(defs)
            def_path.extend([self.path_id[path]] * len(defs))
            names.extend(d.name for d in defs)
        self.name_id: dict[str, int] = {}
        key_of = {k: i for i, k in enumerate(graph.symbol_keys)}
        paths = self.paths
        self.def_path = np.array(def_path, dtype=np.int64)
        self.name = np.array([self.name_id.setdefault(n, len(self.name_id)) for n in names], dtype=np.int64)
        self.key = np.array([key_of.get((paths[f], n), -1) for f, n in zip(def_path, names)], dtype=np.int64)
        self.definers = np.array([float(len(graph.definers.get(n, (None,)))) for n in names])
        self.kind_factor = np.array([LOW_VALUE_KINDS.get(d.kind, 1.0) for d in self.defs])
        self.top_scope = np.array([not d.scope for d in self.defs])
        self.member = np.array([bool(d.scope) and d.kind in ("method", "field") for d in self.defs])
        self.stop = np.array([n in STOP_NAMES for n in names])
        self.start_line = np.array([d.start_line for d in self.defs], dtype=np.int64)
        self.path_family = [family(disk.languages.get(p, "")) for p in paths]
        self.path_test = np.array([is_test_path(p) for p in paths])
        self.path_file = np.array([graph.file_index.get(p, -1) for p in paths], dtype=np.int64)
        self.path_top = np.zeros(len(paths))
        np.add.at(self.path_top, self.def_path, self.top_scope.astype(float))
        self.path_top[self.path_top == 0] = 1.0

    def score(self, graph: Graph, snap: Snapshot, rank: np.ndarray, current: str | None, focus: list[str],
              skip: set[str], limit: int) -> list[tuple[float, str, Definition, str]]:
        """The best ``limit`` scored definitions of the table's files, computed as ``_score_python`` does."""
        if not self.defs:
            return []
        n_paths = len(self.paths)
        file_rank_p = np.where(self.path_file >= 0, rank[np.maximum(self.path_file, 0)], 0.0)
        fam = family(snap.languages.get(current, "")) if current else None
        keep_p = np.array([f == fam for f in self.path_family]) if fam is not None else np.ones(n_paths, bool)
        for p in skip | ({current} if current else set()):
            if p in self.path_id:
                keep_p[self.path_id[p]] = False
        imported_p = np.zeros(n_paths, bool)
        for p in snap.imports.get(current, ()) if current else ():
            if p in self.path_id:
                imported_p[self.path_id[p]] = True
        in_test = current is not None and is_test_path(current)
        test_p = np.where(self.path_test & (not in_test), TEST_FILE_FACTOR, 1.0)

        flow = graph.symbol_flow @ rank if graph.symbol_keys else np.zeros(0)
        base = np.zeros(len(self.defs))
        has_key = self.key >= 0
        base[has_key] = flow[self.key[has_key]]
        base[base <= 0] = 0.0  # only positive flows count, as in by_key
        focus_ids = [self.name_id[n] for n in focus if n in self.name_id]
        in_focus = np.isin(self.name, focus_ids) if focus_ids else np.zeros(len(self.defs), bool)
        current_refs = snap.references.get(current, {}) if current else {}
        ref_ids = [self.name_id[n] for n in current_refs if n in self.name_id]
        in_refs = np.isin(self.name, ref_ids) if ref_ids else np.zeros(len(self.defs), bool)
        imported = imported_p[self.def_path]
        file_rank = file_rank_p[self.def_path]

        keep = keep_p[self.def_path] & ~self.stop & ~((base == 0.0) & ~in_focus & ~imported)
        score = base + file_rank * 1e-3
        score = np.where(imported & self.top_scope, score + file_rank * IMPORTED_FILE_SHARE / self.path_top[self.def_path], score)
        score = np.where(in_focus, (score + file_rank) * CURSOR_NAME_BOOST / self.definers,
                         np.where(in_refs, score * CURRENT_FILE_NAME_BOOST, score))
        score = score * self.kind_factor
        score = np.where(imported, score * IMPORTED_DEFINER_BOOST, score)
        score = score * test_p[self.def_path]
        score = np.where(self.member, score * 0.5, score)

        idx = np.flatnonzero(keep)
        if len(idx) > limit:  # the best `limit` by score, then ordered exactly below
            part = np.argpartition(-score[idx], limit - 1)[:limit]
            cut = score[idx[part]].min()
            idx = idx[score[idx] >= cut]  # ties at the cut stay: the exact order decides among them
        idx = idx[np.lexsort((idx, self.start_line[idx], self.def_path[idx], -score[idx]))][:limit]
        out = []
        for i in idx.tolist():
            d, path = self.defs[i], self.paths[self.def_path[i]]
            if in_focus[i]:
                reason = f"defines `{d.name}` used near the cursor"
            elif in_refs[i]:
                reason = f"defines `{d.name}` used {current_refs[d.name]}x in the current file"
            elif imported[i]:
                reason = "in a file the current file imports"
            else:
                reason = f"defines `{d.name}`, central in the repository graph"
            out.append((float(score[i]), path, d, reason))
        return out


def _score_python(
    graph: Graph, snap: Snapshot, rank: np.ndarray, current: str | None, focus: Iterable[str],
    paths: Iterable[str] | None = None,
) -> list[tuple[float, str, Definition, str]]:
    """``score_definitions`` one definition at a time, over ``paths`` (default: every file); best first."""
    flow = graph.symbol_flow @ rank if graph.symbol_keys else np.zeros(0)
    by_key = {key: float(v) for key, v in zip(graph.symbol_keys, flow) if v > 0}
    focus = list(dict.fromkeys(focus))
    focus_set = set(focus)
    current_refs = snap.references.get(current, {}) if current else {}
    imported = set(snap.imports.get(current, ())) if current else set()
    in_test = current is not None and is_test_path(current)
    fam = family(snap.languages.get(current, "")) if current else None
    out = []
    chosen = snap.definitions.items() if paths is None else ((p, snap.definitions.get(p, ())) for p in paths)
    for path, defs in chosen:
        if path == current or (fam is not None and family(snap.languages.get(path, "")) != fam):
            continue
        file_rank = float(rank[graph.file_index[path]]) if path in graph.file_index else 0.0
        top_level = (sum(1 for d in defs if not d.scope) or 1) if path in imported else 1
        test_factor = TEST_FILE_FACTOR if not in_test and is_test_path(path) else 1.0
        for d in defs:
            base = by_key.get((path, d.name), 0.0)
            if base == 0.0 and d.name not in focus_set and path not in imported:
                continue
            score = base + file_rank * 1e-3  # ties broken by how central the file is
            if path in imported and not d.scope:
                score += file_rank * IMPORTED_FILE_SHARE / top_level
            if d.name in STOP_NAMES:
                continue
            if d.name in focus_set:
                score = (score + file_rank) * CURSOR_NAME_BOOST / len(graph.definers.get(d.name, (path,)))
                reason = f"defines `{d.name}` used near the cursor"
            elif d.name in current_refs:
                score *= CURRENT_FILE_NAME_BOOST
                reason = f"defines `{d.name}` used {current_refs[d.name]}x in the current file"
            elif path in imported:
                reason = "in a file the current file imports"
            else:
                reason = f"defines `{d.name}`, central in the repository graph"
            score *= LOW_VALUE_KINDS.get(d.kind, 1.0)
            if path in imported:
                score *= IMPORTED_DEFINER_BOOST
            score *= test_factor
            if d.scope and d.kind in ("method", "field"):
                score *= 0.5  # members come with their class when the class is chosen
            out.append((score, path, d, reason))
    out.sort(key=_order)
    return out


def fit_snippets(
    scored: list[tuple[float, str, Definition, str]],
    read_lines: Callable[[str], list[str]],
    budget: int,
    count_tokens: TokenCounter = estimate_tokens,
    *,
    exclude: Iterable[tuple[str, int, int]] = (),
    max_candidates: int = MAX_CANDIDATES,
    members: Callable[[str, int, int], list[int]] | None = None,
) -> list[Snippet]:
    """Greedily takes the best definitions whose text fits ``budget`` tokens; drops ones already covered.

    ``exclude`` lists (path, start_line, end_line) ranges already in the prompt. A definition too long for
    what is left of the budget (a large class) is given as its outline instead: its first line and the
    signature lines of its members, which ``members(path, start, end)`` lists (1-based lines).
    """
    chosen: list[Snippet] = []
    covered: dict[str, list[tuple[int, int]]] = {}
    for p, a, b in exclude:
        covered.setdefault(p, []).append((a, b))
    used = 0
    floor = scored[0][0] * MIN_SCORE_RATIO if scored else 0.0
    for score, path, d, reason in scored[:max_candidates]:
        if score < floor:
            break
        start, end = d.start_line, min(d.end_line, d.start_line + MAX_SNIPPET_LINES - 1)
        if any(a <= start and end <= b for a, b in covered.get(path, ())):
            continue
        try:
            lines = read_lines(path)
        except OSError:
            continue
        text = "\n".join(lines[start - 1 : end])
        if not text.strip():
            continue
        tokens = count_tokens(text) + 1  # the newline that joins snippets
        if used + tokens > budget:
            outline = _outline(lines, start, d.end_line, members(path, start, d.end_line) if members else [])
            if outline is None or used + (tokens := count_tokens(outline) + 1) > budget:
                continue
            text, end, reason = outline, start, f"{reason} (outline)"  # covers only its first line: members may follow
        # a chosen span that this one contains is replaced by it
        inner = [s for s in chosen if s.path == path and start <= s.start_line and s.end_line <= end]
        for s in inner:
            chosen.remove(s)
            used -= s.tokens
        chosen.append(Snippet(path, start, end, text, score, reason, tokens))
        covered.setdefault(path, []).append((start, end))
        used += tokens
    return chosen


def _outline(lines: list[str], start: int, end: int, member_lines: list[int]) -> str | None:
    """A definition's first line and its members' signature lines, or None when it has no members."""
    picked = [n for n in sorted(set(member_lines)) if start < n <= end][:MAX_OUTLINE_MEMBERS]
    if not picked:
        return None
    return "\n".join(lines[n - 1] for n in [start, *picked] if n <= len(lines))


TEST_PATH_RE = re.compile(r"(^|/)(tests?|testing|__tests__|spec)(/|$)|(^|/)test_[^/]*$|_test\.[a-z]+$|\.(test|spec)\.[jt]sx?$")


def is_test_path(path: str) -> bool:
    """True for files that look like tests (tests/ folders, test_*.py, *_test.go, *.test.ts ...)."""
    return TEST_PATH_RE.search(path) is not None


class Ranker:
    """Ranks context for cursors in one ``Index``, caching the graph until the index changes."""

    def __init__(self, index: Index):
        self.index = index
        self._graph: Graph | None = None
        self._graph_gen: tuple | None = None
        self._graph_shape: tuple = ()
        self._clean_shapes: dict[str, tuple] = {}  # path -> shape of its last buffer that parsed cleanly
        self._table: DefTable | None = None
        self._table_graph: Graph | None = None
        self._lines: dict[str, list[str]] = {}

    def graph(self) -> tuple[Graph, Snapshot]:
        """The file graph and the snapshot it ranks; rebuilt when the database changes, and after a buffer edit
        only when the edit changes the graph's shape (see ``_buffer_shape``)."""
        snap = self.index.snapshot()
        if self._graph is not None and self._graph_gen == snap.generation:
            return self._graph, snap
        disk_changed = self._graph_gen is None or self._graph_gen[:2] != snap.generation[:2]
        shape = self._buffer_shape(snap)
        if disk_changed or self._graph is None or shape != self._graph_shape:
            self._graph, self._graph_shape = build_graph(snap), shape
            if disk_changed:
                self._lines.clear()
        self._graph_gen = snap.generation
        return self._graph, snap

    def _buffer_shape(self, snap: Snapshot) -> tuple:
        """What of the unsaved buffers the graph is rebuilt for: per buffer that differs there from its file
        on disk, its language, defined names and resolved imports, as of its last edit that parsed without
        errors; references are left out.

        Typing changes a buffer's references on nearly every keystroke (each prefix of a name is a name, and
        in a large repository most short ones are defined somewhere), and rebuilding the graph costs ~2 s on
        the 1,800-file standard library. Between saves the graph keeps the references it was built with;
        the cursor's own identifiers reach the ranking through ``focus`` and the buffer's imports through
        ``personalise``, both read from the current snapshot, and a save rebuilds the graph from the disk.
        """
        def shape(s: Snapshot, path: str) -> tuple:
            return (s.languages.get(path), frozenset(d.name for d in s.definitions.get(path, ())),
                    tuple(s.imports.get(path, ())))

        disk = self.index.disk_snapshot()
        out = []
        for path, (_, parsed) in sorted(self.index.buffers.items()):
            if parsed.errors:  # a half-typed call can swallow the definitions after it: keep the last clean shape
                mine = self._clean_shapes.get(path)
            else:
                mine = self._clean_shapes[path] = shape(snap, path)
            # a buffer shaped like its file on disk (the usual case: typing inside a body) adds nothing
            if mine is not None and (path not in disk.languages or mine != shape(disk, path)):
                out.append((path, mine))
        return tuple(out)

    def read_lines(self, path: str) -> list[str]:
        if path in self.index.buffers:
            return self.index.buffers[path][0].split("\n")
        if path not in self._lines:
            self._lines[path] = self.index.read_text(path).split("\n")
        return self._lines[path]

    def table(self, graph: Graph) -> DefTable:
        """The array form of the disk's definitions for ``graph``, rebuilt with it (see ``DefTable``)."""
        if self._table is None or self._table_graph is not graph:
            self._table = DefTable(graph, self.index.disk_snapshot(), self.index.buffers)
            self._table_graph = graph
        self._table.stale.update(self.index.buffers)  # buffers opened since: scored from the snapshot
        return self._table

    def top_definitions(self, n: int) -> list[tuple[float, str, Definition]]:
        """The ``n`` most central definitions of the repository as (score, path, definition)."""
        graph, snap = self.graph()
        ranks = pagerank(graph, personalise(graph, snap, None, ()))
        scored = score_definitions(graph, snap, ranks, None, (), table=self.table(graph), limit=n)
        return [(score, path, d) for score, path, d, _ in scored]

    def rank(
        self,
        current: str | None,
        *,
        focus: Iterable[str] = (),
        budget: int = 2048,
        count_tokens: TokenCounter = estimate_tokens,
        exclude_paths: Iterable[str] = (),
        exclude: Iterable[tuple[str, int, int]] = (),
    ) -> list[Snippet]:
        """Snippets from files other than ``current`` (and ``exclude_paths``), best first, within ``budget`` tokens.

        ``focus`` names the identifiers near the cursor (see ``cursor_identifiers``).
        """
        graph, snap = self.graph()
        focus = [f for f in focus if f in graph.definers]
        restart = personalise(graph, snap, current, focus)
        ranks = pagerank(graph, restart)
        scored = score_definitions(graph, snap, ranks, current, focus, table=self.table(graph),
                                   skip=exclude_paths, limit=MAX_CANDIDATES)
        def members(path: str, start: int, end: int) -> list[int]:
            return [d.start_line for d in snap.definitions.get(path, ()) if start < d.start_line <= end]

        return fit_snippets(scored, self.read_lines, budget, count_tokens, exclude=exclude, members=members)
