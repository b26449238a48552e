"""Updating a changed definition's usages in other files: detect the change → find the users → edit them.

``changed_definitions`` compares the definitions of an unsaved buffer (the index's in-memory parse,
``Index.update_buffer``) with those the on-disk index holds for the same file, and reports renamed
functions, classes and methods and changed parameter lists. ``find_users`` lists the other repository
files that reference the old name (the index's per-file references, narrowed to importers of the
defining file when another file defines the same name). ``update_usages`` edits those files: a pure
rename is done deterministically on the identifiers tree-sitter reports at their positions (no model);
a changed parameter list goes to the model through the patch machinery (``codeassist.patch``).

Nothing is written here: the result is a list of ``FileChange`` (``codeassist.apply``) for the caller
to show, apply or send to an editor. Lines are 1-based, as in the index.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePosixPath

import tree_sitter

from codeassist import rope
from codeassist.apply import FileChange
from codeassist.edits import Edit, EditError, apply_edit
from codeassist.engine import CancelFn, Engine
from codeassist.models import LoadedModel
from codeassist.patch import propose_patch
from indexer import languages
from indexer.index import Index
from indexer.parse import Definition
from indexer.store import Store

TRACKED_KINDS = frozenset({"function", "method", "class", "interface", "struct", "enum", "type"})
CALLABLE_KINDS = frozenset({"function", "method"})  # kinds whose parameter list is compared
MAX_SIGNATURE_LINES = 40  # a parameter list is looked for this many lines past the definition's start
LANGUAGE_FAMILY = {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}  # files that can use each other
CONSTRUCTORS = {"python": "__init__", "javascript": "constructor", "typescript": "constructor", "tsx": "constructor"}


class UsageError(ValueError):
    """A change that cannot be handled: a malformed description, a file outside the index."""


@dataclass(frozen=True)
class DefinitionChange:
    """One definition of ``path`` whose name or parameter list differs between the buffer and the index."""

    path: str  # repository-relative file holding the definition
    kind: str  # the definition's kind: function, method, class...
    scope: str  # dotted enclosing definitions in the buffer ("" at top level)
    old_name: str
    new_name: str
    old_params: str | None  # normalised parameter list "(a, b)"; None for kinds without one
    new_params: str | None
    old_signature: str  # the line holding the old name, as the index stored it
    new_signature: str
    line: int  # 1-based line of the definition in the buffer

    @property
    def renamed(self) -> bool:
        return self.old_name != self.new_name

    @property
    def params_changed(self) -> bool:
        return self.old_params != self.new_params

    @property
    def used_as(self) -> str:
        """The name other files use: the class's, for a constructor."""
        if self.kind == "method" and self.old_name in CONSTRUCTORS.values() and self.scope:
            return self.scope.rsplit(".", 1)[-1]
        return self.old_name

    def describe(self) -> str:
        parts = []
        if self.renamed:
            parts.append(f"{self.old_name} → {self.new_name}")
        if self.params_changed:
            parts.append(f"{self.new_name}{self.old_params} → {self.new_name}{self.new_params}")
        return ", ".join(parts)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> "DefinitionChange":
        """The change from ``to_json``'s output; raises UsageError for anything else."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise UsageError(f"not a definition change: {data!r}"[:200])
        if not all(isinstance(data[k], str) for k in names - {"old_params", "new_params", "line"}):
            raise UsageError("a definition change needs string names and paths")
        if not isinstance(data["line"], int) or not all(isinstance(data[k], (str, type(None))) for k in ("old_params", "new_params")):
            raise UsageError("a definition change needs an integer line and string parameter lists")
        return cls(**data)


@dataclass
class UsageUpdate:
    """The edits that bring the users of a changed definition up to date."""

    change: DefinitionChange
    files: list[str]  # the other files that use the definition
    changes: list[FileChange] = field(default_factory=list)  # one per edited file (old: its current text)
    method: str = "rename"  # "rename" (deterministic, on identifiers) or "model" (the patch machinery)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.errors


# -- detecting changes ------------------------------------------------------------------------------
def indexed_definitions(store: Store, path: str) -> list[Definition]:
    """The definitions the on-disk index holds for one file, in source order."""
    rows = store.conn.execute(
        "SELECT s.name, s.kind, s.start_line, s.end_line, s.start_col, s.signature, s.scope "
        "FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? ORDER BY s.start_line, s.start_col",
        (path,),
    )
    return [Definition(*r) for r in rows]


def parameter_list(text: str, definition: Definition) -> str | None:
    """The definition's parameter list as written, whitespace collapsed: ``"(a, b=1)"``; None if not found.

    Looks from the definition's first line (1-based) for its name followed by ``(`` and takes the text up
    to the matching ``)``.
    """
    lines = text.split("\n")[definition.start_line - 1 : definition.start_line - 1 + MAX_SIGNATURE_LINES]
    chunk = "\n".join(lines)
    m = re.search(rf"(?<![\w$]){re.escape(definition.name)}\s*(?:<[^()]*>)?\s*\(", chunk)
    if not m:
        return None
    depth, start = 0, m.end() - 1
    for i in range(start, len(chunk)):
        ch = chunk[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                inner = " ".join(chunk[start + 1 : i].split())
                return "(" + re.sub(r"\s*,\s*", ", ", inner).rstrip(", ") + ")"
    return None


def changed_definitions(index: Index, path: str, text: str) -> list[DefinitionChange]:
    """Definitions of ``path`` renamed or with a changed parameter list in ``text`` (the unsaved buffer).

    Parses ``text`` into the index's buffer overlay and compares it with the on-disk index's definitions
    for the file, aligned in source order: a definition whose kind stays and whose name changes in place
    is a rename; one kept by name whose parameter list differs is a signature change.
    """
    rel = index.relpath(path)
    current = index.buffers.get(rel)
    parsed = current[1] if current is not None and current[0] == text else index.update_buffer(rel, text)
    if parsed is None:
        return []
    old_defs = [d for d in indexed_definitions(index.store, rel) if d.kind in TRACKED_KINDS]
    new_defs = [d for d in parsed.definitions if d.kind in TRACKED_KINDS]
    try:
        old_text = (index.root / rel).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        old_text = ""
    key = lambda d: f"{d.kind} {d.scope} {d.name}"  # noqa: E731
    matcher = difflib.SequenceMatcher(a=[key(d) for d in old_defs], b=[key(d) for d in new_defs], autojunk=False)
    pairs: list[tuple[Definition, Definition]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "replace"):
            pairs += [(o, n) for o, n in zip(old_defs[i1:i2], new_defs[j1:j2]) if o.kind == n.kind]
    changes = []
    for old, new in pairs:
        callable_ = old.kind in CALLABLE_KINDS
        old_params = parameter_list(old_text, old) if callable_ else None
        new_params = parameter_list(text, new) if callable_ else None
        if old.name == new.name and (old_params == new_params or old_params is None or new_params is None):
            continue
        changes.append(DefinitionChange(rel, new.kind, new.scope, old.name, new.name, old_params, new_params,
                                        old.signature, new.signature, new.start_line))
    return changes


# -- finding users ----------------------------------------------------------------------------------
def _family(language: str) -> str:
    return LANGUAGE_FAMILY.get(language, language)


def find_users(index: Index, change: DefinitionChange) -> list[str]:
    """The other repository files (same language family) that reference the changed definition's name.

    Files defining the name themselves are left out (their uses are their own). When another file also
    defines the name, only files importing the changed definition's file count as users.
    """
    snap = index.snapshot()
    name = change.used_as
    family = _family(snap.languages.get(change.path, ""))
    same_family = {p for p, lang in snap.languages.items() if _family(lang) == family and p != change.path}
    definers = {p for p in same_family if any(d.name == name for d in snap.definitions.get(p, ()))}
    users = sorted(p for p in same_family - definers if name in snap.references.get(p, {}))
    if definers:
        users = [p for p in users if change.path in snap.imports.get(p, ())]
    return users


# -- editing users ------------------------------------------------------------------------------------
# Python positions where an identifier names something other than a module-level definition: another
# object's attribute (``json.load``), a keyword argument (``f(load=1)``), or a parameter (``def f(load)``).
MEMBER_FIELDS = {"attribute": "attribute", "keyword_argument": "name"}
PARAMETER_PARENTS = {"parameters", "typed_parameter", "lambda_parameters"}  # their identifiers are names
DEFAULT_PARENTS = {"default_parameter", "typed_default_parameter"}  # the name is; the default value is not


QUALIFIER_RE = re.compile(rb"([A-Za-z_]\w*)\s*\.\s*$")  # the name before ``.``, read from the text itself


def _names_something_else(node: tree_sitter.Node, modules: frozenset[bytes], source: bytes) -> bool:
    parent = node.parent
    if parent is None:
        return False
    field = MEMBER_FIELDS.get(parent.type)
    if field is not None and parent.child_by_field_name(field) == node:
        if parent.type != "attribute":
            return True
        # ``shapes.area`` is ours when ``shapes`` names the defining module; read from the text, since the
        # object's node is unreliable in a buffer with a syntax error nearby
        qualifier = QUALIFIER_RE.search(source[max(0, node.start_byte - 256) : node.start_byte])
        return not (qualifier and qualifier.group(1) in modules)
    return parent.type in PARAMETER_PARENTS or (parent.type in DEFAULT_PARENTS and parent.child_by_field_name("name") == node)


def identifier_spans(source: bytes, language: str, name: str, *, members: bool = True,
                     modules: frozenset[bytes] = frozenset()) -> list[tuple[int, int]]:
    """Byte spans of the identifiers named ``name`` in ``source``, as the language's refs query captures them.

    ``members=False`` leaves out the positions where the name belongs to something else (attributes of other
    objects, keyword arguments, parameters): what renaming a top-level function or class must not touch.
    Attributes of the names in ``modules`` (the defining module as the file refers to it) still count.
    """
    tree = languages.parser(language).parse(source)
    nodes = tree_sitter.QueryCursor(languages.query(language, "refs")).captures(tree.root_node).get("reference", ())
    wanted = name.encode("utf-8")
    return sorted({(n.start_byte, n.end_byte) for n in nodes
                   if n.text == wanted and (members or not _names_something_else(n, modules, source))})


def rename_in(source: bytes, language: str, old: str, new: str, *, members: bool = True,
              modules: frozenset[bytes] = frozenset()) -> bytes:
    """``source`` with every identifier ``old`` replaced by ``new`` (strings and comments untouched).

    ``members`` and ``modules`` as in ``identifier_spans``: members False for a top-level definition.
    """
    out, last = [], 0
    for start, end in identifier_spans(source, language, old, members=members, modules=modules):
        out += [source[last:start], new.encode("utf-8")]
        last = end
    return b"".join(out) + source[last:]


def module_names(source: bytes, defining_path: str) -> frozenset[bytes]:
    """The names under which ``source`` may refer to the module at ``defining_path``: its stem and its aliases."""
    stem = re.escape(PurePosixPath(defining_path).stem.encode())
    aliases = re.findall(rb"\b" + stem + rb"\s+as\s+(\w+)", source)
    return frozenset([PurePosixPath(defining_path).stem.encode(), *aliases])


def rename_usages(index: Index, change: DefinitionChange, users: list[str]) -> list[FileChange]:
    """Deterministic rename of ``change.old_name`` to ``change.new_name`` in each user's current text."""
    snap = index.snapshot()
    result = []
    for path in users:
        old = index.read_text(path).encode("utf-8", errors="surrogatepass")
        new = rename_in(old, snap.languages[path], change.old_name, change.new_name, members=bool(change.scope),
                        modules=module_names(old, change.path))
        if new != old:
            result.append(FileChange(path, old, new))
    return result


def instruction_for(change: DefinitionChange, users: list[str]) -> str:
    """What the model is asked to do for a signature change (and a rename made with it)."""
    what = f"The {change.kind} `{change.old_name}` in {change.path}"
    if change.renamed:
        what += f" was renamed to `{change.new_name}` and"
    before = f"{change.old_name}{change.old_params}"
    after = f"{change.new_name}{change.new_params}"
    return (f"{what} its parameters changed from `{before}` to `{after}`. {change.path} is already updated; "
            f"do not edit it. Update every call of `{change.used_as}` in {', '.join(users)} to match the new "
            f"parameters{' and name' if change.renamed else ''}, passing sensible arguments for new parameters.")


def update_usages(
    index: Index,
    change: DefinitionChange,
    *,
    loaded: LoadedModel | None = None,
    engine: Engine | None = None,
    rope_mode: str = rope.DEFAULT_MODE,
    cancel: CancelFn | None = None,
) -> UsageUpdate:
    """Edits for every other file using ``change``'s definition; the model only for parameter changes.

    Model edits are planned against the files on disk (``codeassist.apply.plan_changes``); renames use each
    file's current text, unsaved buffers included. Only the users are edited, never ``change.path``.
    """
    users = find_users(index, change)
    update = UsageUpdate(change, users)
    if not users:
        update.errors.append(f"no other file uses {change.used_as}")
        return update
    if not change.params_changed:
        update.changes = rename_usages(index, change, users)
        if not update.changes:
            update.errors.append(f"found no identifier {change.old_name} to rename in {', '.join(users)}")
        return update
    update.method = "model"
    if loaded is None or engine is None:
        update.errors.append("updating calls after a parameter change needs the model, which is not loaded yet")
        return update
    proposal = propose_patch(index, loaded, engine, instruction_for(change, users), named_files=users,
                             rope_mode=rope_mode, cancel=cancel)
    update.errors = list(proposal.errors)
    for c in proposal.changes:
        if c.path not in users:
            continue
        if rewrites_a_call(c, change.used_as):
            update.changes.append(c)
        else:  # untrusted output: an edit elsewhere in the file is not an update of the calls
            update.errors.append(f"the model's edit of {c.path} changes no call of {change.used_as}; left out")
    if not update.errors and not update.changes:
        update.errors.append("the model proposed no change to the files using the definition")
    return update


def rewrites_a_call(change: FileChange, name: str) -> bool:
    """Whether ``change`` replaces or deletes a line of the old text that calls ``name`` (``name(`` or
    ``module.name(``)."""
    if change.old is None or change.new is None:
        return False
    old = change.old.decode("utf-8", errors="replace").splitlines()
    new = change.new.decode("utf-8", errors="replace").splitlines()
    call = re.compile(rf"(?<![\w]){re.escape(name)}\s*\(")
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete") and any(call.search(line) for line in old[i1:i2]):
            return True
    return False


REBASE_CONTEXT_LINES = 2  # unchanged lines kept around each hunk to find it again in a newer text


def rebase_change(change: FileChange, current: str) -> FileChange | None:
    """``change`` (made from ``change.old``) re-applied hunk by hunk to ``current``, a newer text of the file.

    Each hunk, with up to ``REBASE_CONTEXT_LINES`` lines of context, must match exactly once in ``current``
    (the tolerant matching of ``codeassist.edits``); returns None when one does not, rather than guess.
    """
    old = change.old.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = change.new.decode("utf-8", errors="replace").splitlines(keepends=True)
    text = current
    for tag, i1, i2, j1, j2 in reversed(difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()):
        if tag == "equal":
            continue
        for c in range(REBASE_CONTEXT_LINES, -1, -1):  # less context when the user edited next to the hunk
            lo, hi = max(0, i1 - c), min(len(old), i2 + c)
            search = "".join(old[lo:hi])
            if not search.strip():
                continue
            try:
                text = apply_edit(text, Edit(change.path, search, "".join(old[lo:i1] + new[j1:j2] + old[i2:hi])))
                break
            except EditError:
                continue
        else:
            return None
    return FileChange(change.path, current.encode("utf-8", errors="surrogatepass"), text.encode("utf-8", errors="surrogatepass"))
