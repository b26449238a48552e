"""Resolving import specs, as written in a file, to the repository files they name.

Resolution runs against the current set of indexed paths, not at parse time, so adding or deleting a
file changes what resolves without re-parsing its importers. Supported: Python absolute, dotted and
relative imports (``from . import x``, ``from ..pkg import y``) against any source root; JavaScript and
TypeScript relative specifiers with extension and ``index`` probing; Go import paths through ``go.mod``'s
module path or by directory suffix; Java imports by package path; C/C++ quoted includes relative to the
including file or by path suffix. Anything else (third-party, standard library) resolves to nothing.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from pathlib import Path

JS_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")


class ImportResolver:
    """Resolves specs for one snapshot of a repository's file list."""

    def __init__(self, paths: list[str], root: Path | None = None):
        self.paths = set(paths)
        self.py_modules: dict[str, list[str]] = defaultdict(list)  # dotted suffix -> files
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        self.by_suffix: dict[str, list[str]] = defaultdict(list)  # last two path parts -> files
        for p in sorted(paths):
            self.by_dir[posixpath.dirname(p)].append(p)
            parts = p.split("/")
            self.by_suffix["/".join(parts[-2:])].append(p)
            self.by_suffix[parts[-1]].append(p)
            if p.endswith((".py", ".pyi")):
                mod = p.rsplit(".", 1)[0].split("/")
                if mod[-1] == "__init__":
                    mod = mod[:-1]
                for i in range(len(mod)):
                    self.py_modules[".".join(mod[i:])].append(p)
        self.go_module = _go_module(root) if root else None

    def resolve(self, importer: str, language: str, spec: str) -> list[str]:
        """Repository paths that ``spec`` (written in ``importer``) refers to; [] when outside the repo."""
        if language == "python":
            return self._python(importer, spec)
        if language in ("javascript", "typescript", "tsx"):
            return self._js(importer, spec)
        if language == "go":
            return self._go(spec)
        if language == "java":
            return self._suffix(spec.replace(".", "/") + ".java", importer)
        if language in ("c", "cpp"):
            local = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
            return [local] if local in self.paths else self._suffix(spec, importer)
        return []

    def _closest(self, candidates: list[str], importer: str) -> list[str]:
        """Of several files with the same module suffix, the one sharing the longest directory prefix."""
        if len(candidates) <= 1:
            return candidates
        def shared(p: str) -> int:
            return len(posixpath.commonprefix([p, importer]))
        return [max(candidates, key=shared)]

    def _suffix(self, rel: str, importer: str) -> list[str]:
        rel = rel.lstrip("./")
        parts = rel.split("/")
        hits = [p for p in self.by_suffix.get("/".join(parts[-2:]), ()) if p == rel or p.endswith("/" + rel)]
        return self._closest(hits, importer)

    def _python(self, importer: str, spec: str) -> list[str]:
        module, _, name = spec.partition("|")
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            base = importer.split("/")[:-1]
            if dots > 1:
                base = base[: len(base) - (dots - 1)] if dots - 1 <= len(base) else []
            rest = module[dots:]
            parts = base + (rest.split(".") if rest else [])
            target = "/".join(parts)
            found = [p for p in (f"{target}.py", f"{target}/__init__.py", f"{target}.pyi") if target and p in self.paths]
            if not target and "__init__.py" in self.paths:
                found = ["__init__.py"]
            if name and name != "*":
                pkg = "/".join(parts + [name])
                sub = [p for p in (f"{pkg}.py", f"{pkg}/__init__.py") if p in self.paths]
                found = sub or found
            return found[:1]
        if name and name != "*":
            sub = self.py_modules.get(f"{module}.{name}")
            if sub:
                return self._closest(sub, importer)
        return self._closest(self.py_modules.get(module, []), importer)

    def _js(self, importer: str, spec: str) -> list[str]:
        if not spec.startswith("."):
            return []
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        if base in self.paths:
            return [base]
        stem = re.sub(r"\.(js|jsx|mjs|cjs)$", "", base)
        for candidate in [stem + e for e in JS_EXTENSIONS] + [f"{base}/index{e}" for e in JS_EXTENSIONS]:
            if candidate in self.paths:
                return [candidate]
        return []

    def _go(self, spec: str) -> list[str]:
        if self.go_module and (spec == self.go_module or spec.startswith(self.go_module + "/")):
            directory = spec[len(self.go_module):].strip("/")
        else:
            parts = spec.split("/")
            directory = next((d for d in ("/".join(parts[i:]) for i in range(len(parts))) if d in self.by_dir), None)
            if directory is None:
                return []
        return [p for p in self.by_dir.get(directory, ()) if p.endswith(".go") and not p.endswith("_test.go")]


def _go_module(root: Path) -> str | None:
    try:
        text = (root / "go.mod").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"^module\s+(\S+)", text, re.M)
    return m.group(1) if m else None
