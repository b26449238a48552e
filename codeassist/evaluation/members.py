"""Where a Python file reads a member of a class defined in another repository file.

CrossCodeEval finds its Python cases by replacing each repository import with an empty class and asking a
linter which attribute reads become undefined (``no-member``): the model can only complete those from the
other file. This module finds the same reads statically, without a linter, typing receivers by the rules of
``codeassist.receiver`` (``Cls.attr``; ``obj.attr`` after ``obj = Cls(...)`` or ``obj: Cls``; ``self.attr``
inherited from an imported class and not defined by the deriving class). ``attr`` must be a member the index
records in the defining class (a method, a class-level field or a nested definition).

The packed context resolves receivers by the same rules, so these cases are the ones it can type: see
tests/bench/RESULTS.md. Lines are 1-based, columns 0-based in code points.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Mapping

from codeassist.receiver import Bindings, bindings, known_bases, own_attributes, receiver_class, scope_nodes


@dataclass(frozen=True)
class MemberUse:
    line: int  # 1-based line of the attribute name
    column: int  # 0-based code points: where the attribute name starts
    attr: str
    cls: str  # the imported class's local name


def member_uses(tree: ast.Module, lines: list[str], classes: Mapping[str, frozenset[str]]) -> list[MemberUse]:
    """Reads of imported classes' members in ``tree``, in source order.

    ``classes`` maps the local names of imported repository classes to their members' names; ``lines`` is
    the file's text split on "\\n".
    """
    found: list[MemberUse] = []
    _scan(tree, {}, None, classes, lines, found)
    return sorted(found, key=lambda u: (u.line, u.column))


def _scan(scope: ast.AST, outer: Bindings, self_base: tuple[str, set[str]] | None,
          classes: Mapping[str, frozenset[str]], lines: list[str], found: list[MemberUse]) -> None:
    """Collects member reads in ``scope`` and recurses into its nested scopes.

    ``outer`` holds the enclosing scopes' bindings (a nested function sees them); ``self_base`` is, inside a
    method of a class deriving from imported classes, (the first such base, the derived class's own names).
    """
    scope_bindings = {**outer, **bindings(scope, classes)} if not isinstance(scope, ast.ClassDef) else outer
    self_name = None
    if self_base and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and scope.args.args:
        self_name = scope.args.args[0].arg
    for node in scope_nodes(scope):
        if isinstance(node, ast.ClassDef):
            bases = known_bases(node, classes)
            _scan(node, scope_bindings, (bases[0], own_attributes(node)) if bases else None, classes, lines, found)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_class = isinstance(scope, ast.ClassDef)
            _scan(node, scope_bindings, self_base if in_class else None, classes, lines, found)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name):
            cls = receiver_class(node.value.id, node.lineno, scope_bindings, classes, self_name, self_base, node.attr)
            if cls and node.attr in classes[cls]:
                use = _locate(node, lines, cls)
                if use:
                    found.append(use)


def _locate(node: ast.Attribute, lines: list[str], cls: str) -> MemberUse | None:
    """The attribute name's position (ast gives UTF-8 byte offsets; cases count code points)."""
    row = node.end_lineno or node.lineno
    if not 0 < row <= len(lines) or node.end_col_offset is None:
        return None
    raw = lines[row - 1].encode("utf-8")
    start = node.end_col_offset - len(node.attr.encode("utf-8"))
    if start < 0 or raw[start:node.end_col_offset] != node.attr.encode("utf-8"):
        return None
    return MemberUse(row, len(raw[:start].decode("utf-8", errors="replace")), node.attr, cls)
