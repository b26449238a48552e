"""Where completions stop and how they are trimmed (pure logic)."""

from codeassist.completion import make_stop_rule, trim_completion


def test_mid_statement_completion_ends_at_the_newline():
    rule = make_stop_rule("def f(x):\n    total = ", "\n    return total\n")
    assert rule("compute(x)") is None
    assert rule("compute(x)\n    return") == len("compute(x)")


def test_text_after_the_cursor_makes_it_single_line():
    rule = make_stop_rule("    value = f(", ")\n")
    assert rule("a, b\n") == 4


def test_block_completion_stops_at_a_dedent():
    prefix = "class A:\n    def run(self):\n        "
    rule = make_stop_rule(prefix, "\n\ndef other():\n    pass\n")
    text = "x = 1\n        return x\n\ndef extra():\n"
    assert text[: rule(text)] == "x = 1\n        return x\n"


def test_block_completion_stops_where_the_suffix_resumes():
    prefix = "def f(items):\n    "
    suffix = "\n    return result\n"
    rule = make_stop_rule(prefix, suffix)
    text = "result = [i * 2 for i in items]\n    return result\n"
    assert text[: rule(text)] == "result = [i * 2 for i in items]"


def test_block_opening_line_allows_multiple_lines():
    rule = make_stop_rule("def f(items):", "\n")
    assert rule("\n    return sorted(items)\n") is None


def test_line_limit():
    rule = make_stop_rule("def f():\n    ", "", max_lines=3)
    text = "".join(f"a{i} = {i}\n    " for i in range(10))
    assert text[: rule(text)].split("\n") == ["a0 = 0", "    a1 = 1", "    a2 = 2"]


def test_trim_drops_overlap_with_the_suffix():
    assert trim_completion("g(x))", "))\n") == "g(x"
    assert trim_completion("foo()  ", "\n") == "foo()"
    assert trim_completion("a\n\n\n", "") == "a\n"
    assert trim_completion("a)", ")") == "a"
    assert trim_completion("abc", "xyz") == "abc"
