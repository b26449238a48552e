"""Import resolution: specs as written, resolved against a repository's file list (and through a real index)."""

from __future__ import annotations

import pytest

from indexer.imports import ImportResolver
from indexer.index import Index

PY_PATHS = [
    "pkg/__init__.py",
    "pkg/models.py",
    "pkg/sub/__init__.py",
    "pkg/sub/util.py",
    "pkg/sub/helpers.py",
    "pkg/other/__init__.py",
    "pkg/other/tools.py",
    "app/main.py",
    "src/corelib/__init__.py",
    "src/corelib/io.py",
    "README.md",
]


@pytest.fixture
def py():
    return ImportResolver(PY_PATHS)


@pytest.mark.parametrize(("spec", "expected"), [
    ("pkg.models", ["pkg/models.py"]),  # import pkg.models
    ("pkg", ["pkg/__init__.py"]),  # import pkg
    ("pkg|models", ["pkg/models.py"]),  # from pkg import models (a submodule)
    ("pkg.models|User", ["pkg/models.py"]),  # from pkg.models import User (a name)
    ("pkg.sub.util|*", ["pkg/sub/util.py"]),  # from pkg.sub.util import *
    ("corelib.io|read", ["src/corelib/io.py"]),  # under a src/ source root
    ("os.path", []),  # standard library
    ("json|loads", []),
    ("requests|get", []),  # third party
])
def test_python_absolute(py, spec, expected):
    assert py.resolve("app/main.py", "python", spec) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    (".|helpers", ["pkg/sub/helpers.py"]),  # from . import helpers (a sibling module)
    (".helpers|tidy", ["pkg/sub/helpers.py"]),  # from .helpers import tidy
    (".|something", ["pkg/sub/__init__.py"]),  # from . import something (a name in the package)
    ("..|models", ["pkg/models.py"]),  # from .. import models
    ("..models|User", ["pkg/models.py"]),  # from ..models import User
    ("..other|tools", ["pkg/other/tools.py"]),  # from ..other import tools
    ("..other.tools|hammer", ["pkg/other/tools.py"]),  # from ..other.tools import hammer
    ("..|*", ["pkg/__init__.py"]),  # from .. import *
    (".missing|x", []),
    ("....|x", []),  # more dots than folders: nothing, and no crash
])
def test_python_relative(py, spec, expected):
    assert py.resolve("pkg/sub/util.py", "python", spec) == expected


def test_python_relative_from_a_package_at_the_repository_root():
    """A repository whose root is itself a package (``Index("mypkg/")``): ``from . import core`` in
    ``__init__.py`` names ``core.py`` next to it, exactly as it does one folder down."""
    r = ImportResolver(["__init__.py", "core.py", "util.py"])
    assert r.resolve("util.py", "python", ".core|run") == ["core.py"]
    assert r.resolve("util.py", "python", ".|core") == ["core.py"]


def test_python_prefers_the_closest_of_several_same_named_modules():
    r = ImportResolver(["a/util.py", "b/util.py", "b/main.py"])
    assert r.resolve("b/main.py", "python", "util") == ["b/util.py"]
    assert r.resolve("a/x.py", "python", "util|f") == ["a/util.py"]


JS_PATHS = [
    "web/src/app.ts",
    "web/src/util.ts",
    "web/src/legacy.js",
    "web/src/lib/index.js",
    "web/src/components/Button.tsx",
    "web/src/components/index.ts",
    "web/src/types.d.ts",
    "web/shared/config.mjs",
]


@pytest.mark.parametrize(("spec", "expected"), [
    ("./util", ["web/src/util.ts"]),  # extension probing
    ("./util.js", ["web/src/util.ts"]),  # TypeScript's ESM convention: .js names the .ts source
    ("./legacy.js", ["web/src/legacy.js"]),  # exact path
    ("./legacy", ["web/src/legacy.js"]),
    ("./lib", ["web/src/lib/index.js"]),  # folder with an index file
    ("./components", ["web/src/components/index.ts"]),
    ("./components/Button", ["web/src/components/Button.tsx"]),
    ("./types", ["web/src/types.d.ts"]),  # declaration file
    ("../shared/config", ["web/shared/config.mjs"]),
    ("./nope", []),
    ("react", []),  # a package, not a file
    ("@scope/pkg/util", []),
])
def test_js_ts_relative(spec, expected):
    r = ImportResolver(JS_PATHS)
    assert r.resolve("web/src/app.ts", "typescript", spec) == expected
    assert r.resolve("web/src/app.ts", "javascript", spec) == expected
    assert r.resolve("web/src/app.ts", "tsx", spec) == expected


GO_PATHS = [
    "main.go",
    "internal/store/store.go",
    "internal/store/sql.go",
    "internal/store/store_test.go",
    "internal/store/testdata/gen.go",
    "pkg/api/api.go",
]


def test_go_through_go_mod(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/shop\n\ngo 1.22\n")
    r = ImportResolver(GO_PATHS, tmp_path)
    assert r.go_module == "example.com/shop"
    # the package's files, not its tests, not its sub-packages
    assert r.resolve("main.go", "go", "example.com/shop/internal/store") == ["internal/store/sql.go", "internal/store/store.go"]
    assert r.resolve("main.go", "go", "example.com/shop/pkg/api") == ["pkg/api/api.go"]
    assert r.resolve("pkg/api/api.go", "go", "example.com/shop") == ["main.go"]
    assert r.resolve("main.go", "go", "example.com/shop/missing") == []
    assert r.resolve("main.go", "go", "fmt") == []
    assert r.resolve("main.go", "go", "net/http") == []


def test_go_without_go_mod_matches_by_directory_suffix(tmp_path):
    r = ImportResolver(GO_PATHS, tmp_path)
    assert r.go_module is None
    assert r.resolve("main.go", "go", "github.com/someone/shop/pkg/api") == ["pkg/api/api.go"]
    assert r.resolve("main.go", "go", "github.com/someone/else/lib") == []


def test_c_quoted_includes():
    r = ImportResolver(["src/buffer.c", "src/buffer.h", "include/api.h", "lib/util/log.h", "other/buffer.h"])
    assert r.resolve("src/buffer.c", "c", "buffer.h") == ["src/buffer.h"]  # next to the includer first
    assert r.resolve("src/buffer.c", "c", "../include/api.h") == ["include/api.h"]
    assert r.resolve("src/buffer.c", "c", "util/log.h") == ["lib/util/log.h"]  # by path suffix (-I lib)
    assert r.resolve("src/buffer.c", "cpp", "api.h") == ["include/api.h"]
    assert r.resolve("src/buffer.c", "c", "stdio.h") == []


def test_java_by_package_path():
    r = ImportResolver(["src/main/java/com/acme/audit/AuditLog.java", "src/main/java/com/acme/App.java"])
    assert r.resolve("src/main/java/com/acme/App.java", "java", "com.acme.audit.AuditLog") == [
        "src/main/java/com/acme/audit/AuditLog.java"
    ]
    assert r.resolve("src/main/java/com/acme/App.java", "java", "java.util.List") == []


def test_unsupported_language_resolves_to_nothing():
    assert ImportResolver(["src/lib.rs", "src/config.rs"]).resolve("src/lib.rs", "rust", "crate::config") == []


def test_snapshot_imports_in_a_repository(make_repo):
    root = make_repo({
        "go.mod": "module example.com/shop\n",
        "pkg/__init__.py": "",
        "pkg/models.py": "class User:\n    pass\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/util.py": "from . import helpers, late\nfrom ..models import User\nimport os\n",
        "pkg/sub/helpers.py": "def tidy():\n    pass\n",
        "web/app.ts": 'import { f } from "./lib";\nimport React from "react";\nexport const x = f();\n',
        "web/lib/index.ts": "export function f() { return 1; }\n",
        "cmd/main.go": 'package main\n\nimport (\n\t"fmt"\n\t"example.com/shop/internal/store"\n)\n\nfunc main() { fmt.Println(store.Open()) }\n',
        "internal/store/store.go": "package store\n\nfunc Open() int { return 1 }\n",
        "csrc/main.c": '#include <stdio.h>\n#include "buffer.h"\nint main(void) { return 0; }\n',
        "csrc/buffer.h": "int buffer_len(void);\n",
    })
    with Index(root) as idx:
        idx.refresh()
        imports = idx.snapshot().imports
        # `late` does not exist yet: `from . import late` can only mean a name in the package
        assert imports["pkg/sub/util.py"] == ["pkg/models.py", "pkg/sub/__init__.py", "pkg/sub/helpers.py"]
        assert imports["web/app.ts"] == ["web/lib/index.ts"]
        assert imports["cmd/main.go"] == ["internal/store/store.go"]
        assert imports["csrc/main.c"] == ["csrc/buffer.h"]
        # resolution follows the file list: adding the module re-targets the import without re-parsing the importer
        (root / "pkg/sub/late.py").write_text("def late():\n    pass\n")
        assert idx.refresh().reparsed == 1
        assert idx.snapshot().imports["pkg/sub/util.py"] == ["pkg/models.py", "pkg/sub/helpers.py", "pkg/sub/late.py"]
        (root / "pkg/sub/helpers.py").unlink()
        assert idx.refresh().removed == 1
        assert idx.snapshot().imports["pkg/sub/util.py"] == ["pkg/models.py", "pkg/sub/__init__.py", "pkg/sub/late.py"]
