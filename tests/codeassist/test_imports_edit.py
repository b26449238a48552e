"""Imports for completions that use symbols from other repository files (fixture repos in real git repositories)."""

import pytest

from codeassist.imports_edit import (
    ImportEdit, insertion_point, introduced_names, js_specifier, missing_imports, python_module,
)
from indexer.index import Index
from tests.codeassist.conftest import FIXTURES, make_git_repo


def indexed(tmp_path, name):
    idx = Index(make_git_repo(FIXTURES / name, tmp_path / name))
    idx.refresh()
    return idx


@pytest.fixture
def shop(tmp_path):
    idx = indexed(tmp_path, "shop")
    yield idx
    idx.close()


@pytest.fixture
def geometry(tmp_path):
    idx = indexed(tmp_path, "geometry")
    yield idx
    idx.close()


def at_end(text):
    lines = text.split("\n")
    return len(lines), len(lines[-1])


def test_a_name_completed_from_another_module_is_imported_at_the_top(shop):
    text = "def report(items):\n    return compute_invoice_"
    edits = missing_imports(shop, "shop/report.py", text, *at_end(text), "total(items, 0.2)")
    assert edits == [ImportEdit(0, 0, "from shop.pricing import compute_invoice_total\n", ("compute_invoice_total",))]


def test_imports_go_after_the_existing_imports(shop):
    text = (shop.root / "shop/checkout.py").read_text()
    edits = missing_imports(shop, "shop/checkout.py", text, 12, 4, "stock = Inventory()\n    lines.append(WAREHOUSES)")
    assert edits == [ImportEdit(1, 0, "from shop.inventory import Inventory, WAREHOUSES\n", ("Inventory", "WAREHOUSES"))]


def test_attributes_known_names_locals_and_assignments_need_no_import(shop):
    text = (shop.root / "shop/checkout.py").read_text()
    # after "pricing.": an attribute of an imported module
    assert missing_imports(shop, "shop/checkout.py", text, 7, 20, "compute_invoice_total(cart, TAX_RATE)") == []
    # a name the document already uses, a keyword argument, a builtin, a string
    assert missing_imports(shop, "shop/checkout.py", text, 13, 0,
                           "    checkout(cart, code=receipt)\n    print(len('Inventory'))") == []
    # a name the document defines itself
    own = "def Inventory():\n    pass\n\nx = "
    assert missing_imports(shop, "shop/other.py", own, *at_end(own), "Inventory()") == []


def test_a_name_defined_in_two_files_is_not_guessed(geometry):
    text = "def floor(w, h):\n    return "
    assert missing_imports(geometry, "app/floor.py", text, *at_end(text), "area(w, h)") == []
    edits = missing_imports(geometry, "app/floor.py", text, *at_end(text), "Rectangle(w, h)")
    assert edits[0].text == "from lib.shapes import Rectangle\n"


def test_javascript_gets_a_relative_named_import(geometry):
    text = "export function garden(w, h) {\n  return perim"
    edits = missing_imports(geometry, "web/garden.js", text, *at_end(text), "eter(w, h) * 2;")
    assert edits == [ImportEdit(0, 0, "import { perimeter } from './geometry';\n", ("perimeter",))]
    nested = missing_imports(geometry, "web/ui/panel.js", text, *at_end(text), "eter(w, h) * 2;")
    assert nested[0].text == "import { perimeter } from '../geometry';\n"


def test_javascript_import_follows_the_existing_ones(geometry):
    text = "import { a } from './a'\nimport b from './b'\n\nconst x = "
    edits = missing_imports(geometry, "web/x.js", text, *at_end(text), "perimeter(1, 2)")
    assert edits == [ImportEdit(2, 0, "import { perimeter } from './geometry'\n", ("perimeter",))]


def test_other_languages_get_no_imports(geometry):
    assert missing_imports(geometry, "main.go", "package main\n", 1, 0, "Rectangle{}") == []


def test_python_modules_follow_the_package_chain():
    paths = {"src/shop/__init__.py", "src/shop/pricing.py", "tools/run.py", "pkg/__init__.py"}
    assert python_module(paths, "src/shop/pricing.py") == "shop.pricing"
    assert python_module(paths, "tools/run.py") == "run"
    assert python_module(paths, "pkg/__init__.py") == "pkg"


def test_js_specifiers():
    assert js_specifier("web/app.js", "web/geometry.js") == "./geometry"
    assert js_specifier("web/a/b.ts", "lib/util/index.ts") == "../../lib/util"
    assert js_specifier("app.tsx", "types.d.ts") == "./types"


def test_insertion_point_after_comments_and_docstring_or_at_the_end():
    assert insertion_point('#!/usr/bin/env python\n"""Doc."""\n\nx = 1\n', "python") == (2, 0, False)
    assert insertion_point("x = 1\n", "python") == (0, 0, False)
    assert insertion_point("import os", "python") == (0, 9, True)


def test_introduced_names():
    assert introduced_names("    x = pricing.comp", "ute(a, b=Foo)", "python") == ["a", "Foo"]
    assert introduced_names("  return ", "{ key: make(v) }", "javascript") == ["make", "v"]


def test_a_name_only_mentioned_in_a_comment_or_docstring_is_still_imported(shop):
    text = '"""Totals through compute_invoice_total."""\n# see compute_invoice_total\nx = compute_invoice_'
    edits = missing_imports(shop, "shop/totals.py", text, *at_end(text), "total([], 0)")
    assert edits == [ImportEdit(2, 0, "from shop.pricing import compute_invoice_total\n", ("compute_invoice_total",))]


def test_names_the_completion_binds_itself_are_not_imported():
    from codeassist.imports_edit import introduced_names

    assert introduced_names("    x = ", "[row_total(row) for row in rows]", "python") == ["row_total", "rows"]
    assert introduced_names("    ", "with open(p) as fh: load(fh)", "python") == ["open", "p", "load"]
    assert introduced_names("    f = ", "lambda item: price(item)", "python") == ["price"]


def test_a_module_already_imported_from_gets_the_name_appended(shop, geometry):
    text = "from shop.inventory import WAREHOUSES\n\n\ndef stock():\n    return "
    edits = missing_imports(shop, "shop/stock.py", text, *at_end(text), "Inventory()")
    assert edits == [ImportEdit(0, 37, ", Inventory", ("Inventory",))]
    multi = "from shop.inventory import (\n    WAREHOUSES,\n)\nx = "  # parenthesised: after the last name
    assert missing_imports(shop, "shop/stock.py", multi, *at_end(multi), "Inventory()") == [
        ImportEdit(1, 14, ", Inventory", ("Inventory",))]
    both = "from shop.inventory import WAREHOUSES\nx = "  # one appended, one new statement
    edits = missing_imports(shop, "shop/stock.py", both, *at_end(both), "Inventory(compute_invoice_total())")
    assert edits == [ImportEdit(0, 37, ", Inventory", ("Inventory",)),
                     ImportEdit(1, 0, "from shop.pricing import compute_invoice_total\n", ("compute_invoice_total",))]
    js = "import { area } from './geometry';\n\nconst x = "
    assert missing_imports(geometry, "web/x.js", js, *at_end(js), "perimeter(1, 2)") == [
        ImportEdit(0, 13, ", perimeter", ("perimeter",))]
