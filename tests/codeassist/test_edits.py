"""Parsing edits (SEARCH/REPLACE, unified diffs, recorded model outputs) and tolerant matching."""

import pytest

from codeassist.edits import Edit, EditError, apply_edit, parse_edits

RECORDED_MODEL_OUTPUT = '''Sure! Here are the changes:

shop/pricing.py
```python
<<<<<<< SEARCH
def apply_discount_code(total, code):
=======
def apply_discount(total, code):
>>>>>>> REPLACE
```

`shop/checkout.py`
```python
<<<<<<< SEARCH
    return pricing.apply_discount_code(total, code)
=======
    return pricing.apply_discount(total, code)
>>>>>>> REPLACE
```
'''


def test_recorded_model_output_with_fences_and_backticked_paths():
    edits = parse_edits(RECORDED_MODEL_OUTPUT)
    assert [e.path for e in edits] == ["shop/pricing.py", "shop/checkout.py"]
    assert edits[0].search == "def apply_discount_code(total, code):\n"
    assert edits[1].replace == "    return pricing.apply_discount(total, code)\n"


def test_block_without_divider_is_a_whole_file_rewrite():
    edits = parse_edits("a.py\n<<<<<<< SEARCH\nx = 1\ny = 2\n>>>>>>> REPLACE\n")
    assert edits == [Edit("a.py", "", "x = 1\ny = 2\n", whole=True)]
    assert apply_edit("old\n", edits[0]) == "x = 1\ny = 2\n"


@pytest.mark.parametrize("text, message", [
    ("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", "has no file path"),
    ("a.py\n<<<<<<< SEARCH\na\n=======\nb\n", "truncated"),
    ("a.py\n<<<<<<< SEARCH\na\nb\n", "truncated"),
])
def test_malformed_blocks_are_errors(text, message):
    with pytest.raises(EditError, match=message):
        parse_edits(text)


def test_exact_then_whitespace_then_relative_indent_matching():
    content = "def f():\n    if x:   \n        return 1\n"
    assert apply_edit(content, Edit("a", "        return 1\n", "        return 2\n")).endswith("return 2\n")
    # trailing whitespace differs
    assert "if y:" in apply_edit(content, Edit("a", "    if x:\n", "    if y:\n"))
    # the model dropped the indentation: re-indented to where it matched
    out = apply_edit(content, Edit("a", "if x:\n    return 1\n", "if x:\n    return 3\n"))
    assert out == "def f():\n    if x:\n        return 3\n"


def test_ambiguous_and_missing_matches_are_errors():
    content = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(EditError, match="more than once"):
        apply_edit(content, Edit("a.py", "x = 1\n", "x = 3\n"))
    with pytest.raises(EditError, match="not found"):
        apply_edit(content, Edit("a.py", "z = 1\n", "z = 3\n"))
    with pytest.raises(EditError, match="only creates"):
        apply_edit(content, Edit("a.py", "", "new\n"))


def test_unified_diff_with_creation_deletion_and_no_newline_marker():
    diff = """diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+hello
+world
\\ No newline at end of file
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""
    edits = parse_edits(diff)
    assert edits[0] == Edit("a.py", "one\ntwo\nthree\n", "one\nTWO\nthree\n")
    assert edits[1] == Edit("new.py", "", "hello\nworld\n")
    assert edits[2] == Edit("old.py", "", "", delete=True)


def test_truncated_hunk_is_an_error():
    with pytest.raises(EditError, match="truncated inside a hunk"):
        parse_edits("--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n one\n-two\n")


def test_whole_file_rewrite_keeps_a_header_the_model_left_out():
    content = '"""Docstring."""\n\nimport os\n\n\ndef f():\n    return 1\n'
    edit = Edit("a.py", "", "def f():\n    return 2\n", whole=True)
    assert apply_edit(content, edit) == '"""Docstring."""\n\nimport os\n\n\ndef f():\n    return 2\n'
    tail_dropped = Edit("a.py", "", '"""Docstring."""\n\nimport os\n', whole=True)
    assert apply_edit(content, tail_dropped) == content
