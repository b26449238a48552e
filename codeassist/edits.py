"""Edits as text: parsing SEARCH/REPLACE blocks and unified diffs, and matching them against files.

Both formats become ``Edit``s (path, search text, replacement); a SEARCH block without its divider,
closed by ``>>>>>>> REPLACE`` or by a code fence, is read as the file's whole new content (small models
write those), and is refused if it would drop most of the file; a unified diff's hunk is its context and
removed lines (search) and its context and added lines (replace). Matching is tolerant in three steps:
exact, then ignoring trailing whitespace, then relative indentation (the block re-indented to where it
matches). An edit matching nowhere or in more than one place is an error, never a guess.

All text here is ``str`` with ``\\n`` line endings; ``codeassist.apply`` restores each file's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEV_NULL = "/dev/null"


class EditError(ValueError):
    """An edit that cannot be parsed or applied; the message names the file and says why."""


@dataclass(frozen=True)
class Edit:
    path: str  # as written by the author (validated against the repository later)
    search: str  # text to find; "" creates the file (or appends to an empty one)
    replace: str  # replacement text; with delete=True ignored
    delete: bool = False  # remove the file (unified diff to /dev/null)
    whole: bool = False  # ``replace`` is the file's complete new content (search is ignored)


# -- SEARCH/REPLACE ------------------------------------------------------------------------------------
HEAD_RE = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
TAIL_RE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
FENCE_RE = re.compile(r"^\s*```")
PATH_CLEAN_RE = re.compile(r"^(?:#+\s*)?(?:file(?:name)?:\s*)?[`*'\"]*(.+?)[`*'\":]*$", re.I)


def _path_from(line: str) -> str | None:
    line = line.strip()
    if not line or FENCE_RE.match(line) and len(line.strip("`").strip()) == 0:
        return None
    if FENCE_RE.match(line):
        line = line.strip("`").strip()
        if " " not in line and "/" not in line and "." not in line:
            return None  # a language tag such as ```python
    m = PATH_CLEAN_RE.match(line)
    candidate = m.group(1).strip() if m else line
    if " " in candidate or not candidate:
        return None
    return candidate


def parse_search_replace(text: str) -> list[Edit]:
    """Parses SEARCH/REPLACE blocks; each block's path is the nearest path-like line above it.

    A block without a divider is the file's whole new content when ``>>>>>>> REPLACE`` closes it, or
    when the model closed it with a code fence instead (it copies the fenced file listing of the prompt)
    and no divider or ``>>>>>>> REPLACE`` follows before the next block or the end.
    Raises EditError for a block without a path, without a divider, or cut off before ``>>>>>>> REPLACE``.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    path: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if HEAD_RE.match(line):
            if path is None:
                raise EditError(f"SEARCH block at line {i + 1} has no file path above it")
            search, replace, j = [], [], i + 1
            last_fence = None  # index into ``search`` of the last code-fence line
            while j < len(lines) and not DIVIDER_RE.match(lines[j]):
                if HEAD_RE.match(lines[j]) or TAIL_RE.match(lines[j]):
                    break
                if FENCE_RE.match(lines[j]):
                    last_fence = len(search)
                search.append(lines[j])
                j += 1
            if j < len(lines) and TAIL_RE.match(lines[j]):
                # No divider: small models often write the file's whole new content in one block.
                edits.append(Edit(path, "", _block(search), whole=True))
                i = j + 1
                continue
            if (j >= len(lines) or HEAD_RE.match(lines[j])) and last_fence is not None:
                # ... or close that content with a fence, as the prompt's file listings are closed.
                edits.append(Edit(path, "", _block(search[:last_fence]), whole=True))
                i = i + 1 + last_fence + 1
                continue
            if j < len(lines) and HEAD_RE.match(lines[j]):
                raise EditError(f"SEARCH block for {path} at line {i + 1} has no ======= divider")
            if j >= len(lines):
                raise EditError(f"SEARCH block for {path} at line {i + 1} is truncated (no ======= divider)")
            j += 1
            while j < len(lines) and not TAIL_RE.match(lines[j]):
                if HEAD_RE.match(lines[j]):
                    break
                replace.append(lines[j])
                j += 1
            if j >= len(lines) or not TAIL_RE.match(lines[j]):
                raise EditError(f"SEARCH block for {path} at line {i + 1} is truncated (no >>>>>>> REPLACE)")
            edits.append(Edit(path, _block(search), _block(replace)))
            i = j + 1
            continue
        candidate = _path_from(line)
        if candidate is not None and ("/" in candidate or "." in candidate):
            path = candidate
        i += 1
    return edits


def _block(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


# -- unified diff --------------------------------------------------------------------------------------
HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _diff_path(raw: str) -> str:
    raw = raw.split("\t", 1)[0].strip()
    if raw == DEV_NULL:
        return raw
    return raw[2:] if raw.startswith(("a/", "b/")) else raw


def parse_unified_diff(text: str) -> list[Edit]:
    """Parses a (git-style) unified diff into edits, one per hunk; file creation and deletion included."""
    lines = text.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        old, new = _diff_path(lines[i][4:]), _diff_path(lines[i + 1][4:])
        i += 2
        file_edits: list[Edit] = []
        while i < len(lines) and not lines[i].startswith("--- "):
            m = HUNK_RE.match(lines[i])
            if not m:
                i += 1
                continue
            old_count = int(m.group(2) or 1) if m.group(2) != "0" else 0
            new_count = int(m.group(4) or 1) if m.group(4) != "0" else 0
            search, replace, i = [], [], i + 1
            while i < len(lines) and (old_count > 0 or new_count > 0):
                line = lines[i]
                tag, body = (line[:1], line[1:]) if line else (" ", "")
                if tag == " ":
                    search.append(body), replace.append(body)
                    old_count, new_count = old_count - 1, new_count - 1
                elif tag == "-":
                    search.append(body)
                    old_count -= 1
                elif tag == "+":
                    replace.append(body)
                    new_count -= 1
                elif tag == "\\":
                    pass  # "\ No newline at end of file"
                else:
                    raise EditError(f"malformed hunk line {i + 1} in the diff for {new if new != DEV_NULL else old}")
                i += 1
            if old_count > 0 or new_count > 0:
                raise EditError(f"the diff for {new if new != DEV_NULL else old} is truncated inside a hunk")
            while i < len(lines) and lines[i].startswith("\\"):
                i += 1
            file_edits.append(Edit(new if new != DEV_NULL else old, _block(search), _block(replace)))
        if new == DEV_NULL:
            edits.append(Edit(old, "", "", delete=True))
        elif old == DEV_NULL:
            edits.append(Edit(new, "", "".join(e.replace for e in file_edits)))
        else:
            edits.extend(file_edits)
    return edits


def parse_edits(text: str) -> list[Edit]:
    """Edits from a unified diff or from SEARCH/REPLACE blocks, whichever ``text`` holds."""
    if re.search(r"^--- .*\n\+\+\+ ", text.replace("\r\n", "\n"), re.M):
        return parse_unified_diff(text)
    return parse_search_replace(text)


# -- matching ------------------------------------------------------------------------------------------
def apply_edit(content: str, edit: Edit) -> str:
    """``content`` with ``edit`` applied; raises EditError when the search matches zero or several times."""
    if edit.whole:
        return _merge_whole(content, edit.replace, edit.path)
    if edit.search == "":
        if content.strip():
            raise EditError(f"{edit.path}: an empty SEARCH block only creates a new or empty file")
        return edit.replace
    for matcher in (_match_exact, _match_rstrip, _match_relative_indent):
        result = matcher(content, edit.search, edit.replace)
        if result is _AMBIGUOUS:
            raise EditError(f"{edit.path}: the SEARCH text matches more than once; include more lines to make it unique")
        if result is not None:
            return result
    first = edit.search.strip().split("\n", 1)[0][:80]
    raise EditError(f"{edit.path}: the SEARCH text was not found (it starts with {first!r})")


_AMBIGUOUS = object()
WHOLE_MIN_LINES = 4  # files shorter than this (in lines) may be rewritten entirely by a whole-file block
WHOLE_MIN_KEPT = 0.5  # share of a longer file's lines a whole-file block must keep


def _merge_whole(content: str, new: str, path: str) -> str:
    """A whole-file rewrite, keeping leading and trailing lines the rewrite merely left out.

    Small models rewriting a file often skip its header (docstring, licence, imports) or its tail; a
    rewrite whose first (or last) difference is a pure deletion at the file's edge keeps those lines.
    A rewrite that still keeps under half of a file's lines is refused: small models also write a lone
    SEARCH fragment without its divider, which read as the whole file would wipe the rest. Deleting that
    much on purpose takes a SEARCH/REPLACE block.
    """
    import difflib

    old_lines, new_lines = content.splitlines(keepends=True), new.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes()
    if not ops or all(tag == "equal" for tag, *_ in ops):
        return new
    head = old_lines[: ops[0][2]] if ops[0][0] == "delete" and ops[0][1] == 0 else []
    last = ops[-1]
    tail = old_lines[last[1] :] if last[0] == "delete" and last[2] == len(old_lines) and len(ops) > 1 else []
    kept = len(head) + len(tail) + sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag == "equal")
    if len(old_lines) >= WHOLE_MIN_LINES and kept < WHOLE_MIN_KEPT * len(old_lines):
        raise EditError(f"{path}: a block without ======= would replace the whole file but keeps only {kept} of "
                        f"its {len(old_lines)} lines; to change part of a file write <<<<<<< SEARCH, the lines "
                        "to find, =======, the new lines, >>>>>>> REPLACE")
    return "".join(head) + new + "".join(tail)


def _match_exact(content: str, search: str, replace: str):
    count = content.count(search)
    if count > 1:
        return _AMBIGUOUS
    if count == 1:
        return content.replace(search, replace, 1)
    return None


def _lines_match(content_lines: list[str], search_lines: list[str], norm) -> list[int]:
    want = [norm(l) for l in search_lines]
    n = len(want)
    have = [norm(l) for l in content_lines]
    return [i for i in range(len(have) - n + 1) if have[i : i + n] == want]


def _split(text: str) -> list[str]:
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def _join(lines: list[str], trailing: bool) -> str:
    return "\n".join(lines) + ("\n" if trailing else "")


def _match_rstrip(content: str, search: str, replace: str):
    c, s = _split(content), _split(search)
    hits = _lines_match(c, s, str.rstrip)
    if len(hits) > 1:
        return _AMBIGUOUS
    if not hits:
        return None
    i = hits[0]
    return _join(c[:i] + _split(replace) + c[i + len(s) :], content.endswith("\n"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _match_relative_indent(content: str, search: str, replace: str):
    c, s = _split(content), _split(search)
    if not any(l.strip() for l in s):
        return None
    hits = _lines_match(c, s, lambda l: l.strip())
    # keep only hits where every non-blank line keeps its indentation relative to the block's first line
    good = []
    for i in hits:
        window = c[i : i + len(s)]
        deltas = {_indent(w) - _indent(x) for w, x in zip(window, s) if x.strip()}
        if len(deltas) == 1:
            good.append((i, deltas.pop()))
    if len(good) > 1:
        return _AMBIGUOUS
    if not good:
        return None
    i, delta = good[0]
    if delta < 0 and any(l.strip() and _indent(l) < -delta for l in _split(replace)):
        return None  # dedenting the replacement would cut into its text
    shifted = [(" " * delta + l if delta >= 0 else l[-delta:]) if l.strip() else l for l in _split(replace)]
    return _join(c[:i] + shifted + c[i + len(s) :], content.endswith("\n"))
