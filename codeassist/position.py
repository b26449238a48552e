"""Cursor locations: parsing ``PATH:LINE:COLUMN`` and checking them against a file's text.

The command line speaks 1-based lines and 1-based columns (the cursor sits before the character at that
column); inside codeassist a ``Location`` holds a 1-based line and a 0-based column counted in Unicode
code points (Python ``str`` indices).
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.index import Index


class PositionError(ValueError):
    """A location that is malformed or lies outside its file."""


@dataclass(frozen=True)
class Location:
    path: str  # repository-relative
    line: int  # 1-based
    column: int  # 0-based, code points


def parse_location(spec: str, index: Index, *, text: str | None = None) -> Location:
    """Parses ``PATH:LINE:COLUMN`` (1-based line and column) and validates it against the file's text.

    ``text`` is the buffer's content when it differs from the disk. Raises PositionError or IndexError_.
    """
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise PositionError(f"{spec!r} is not PATH:LINE:COLUMN with 1-based line and column")
    path, line, column = parts[0], int(parts[1]), int(parts[2])
    rel = index.relpath(path)
    if text is None:
        if not (index.root / rel).is_file():
            raise PositionError(f"{rel} is not a file in {index.root}")
        text = index.read_text(rel)
    return check_position(rel, text, line, column - 1)


def check_position(path: str, text: str, line: int, column: int) -> Location:
    """A Location for 1-based ``line`` and 0-based ``column`` in ``text``, or PositionError past its end."""
    lines = text.split("\n")
    if line < 1 or line > len(lines):
        raise PositionError(f"line {line} is outside {path}, which has {len(lines)} lines")
    width = len(lines[line - 1].rstrip("\r"))
    if column < 0 or column > width:
        raise PositionError(f"column {column + 1} is past the end of line {line} of {path} ({width} characters)")
    return Location(path, line, column)


def split_at(text: str, line: int, column: int) -> tuple[str, str]:
    """(prefix, suffix) of ``text`` around the cursor at 1-based ``line``, 0-based ``column``."""
    lines = text.split("\n")
    offset = sum(len(l) + 1 for l in lines[: line - 1]) + column
    return text[:offset], text[offset:]
