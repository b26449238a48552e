"""Prompt packing: deterministic, cache-stable across cursor moves, within budget (real tokenizer)."""

import pytest

from codeassist.context import ContextCache, gather_context
from codeassist.formats import PLAIN, QWEN, detect_format
from codeassist.packer import PackOptions, pack_prompt
from codeassist.position import split_at
from indexer.index import Index
from indexer.rank import Ranker


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from codeassist.models import DEFAULT_MODEL, prepare_checkpoint

    directory, _ = prepare_checkpoint(DEFAULT_MODEL)
    return AutoTokenizer.from_pretrained(directory)


@pytest.fixture
def count(tokenizer):
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def build(repo, path, line, column, count, options=PackOptions(), cache=None, text=None):
    index = Index(repo)
    index.refresh()
    text = text if text is not None else index.read_text(path)
    ctx = gather_context(index, Ranker(index), path, line, column, budget=options.context_tokens,
                         count_tokens=count, cache=cache or ContextCache(), text=text)
    prefix, suffix = split_at(text, line, column)
    return pack_prompt(QWEN, repo.name, path, prefix, suffix, ctx, options, count), ctx


def test_detects_qwen_repo_level_format(tokenizer):
    assert detect_format(tokenizer) is QWEN


def test_layout_puts_context_first_and_the_cursor_last(shop_repo, count):
    prompt, ctx = build(shop_repo, "shop/checkout.py", 7, 20, count)
    text = prompt.text
    assert text.startswith("<|repo_name|>shop\n<|file_sep|>")
    assert "shop/pricing.py" in prompt.context_files
    assert "def compute_invoice_total(items, tax_rate):" in text
    assert text.index("def compute_invoice_total") < text.index("<|file_sep|>shop/checkout.py\n<|fim_prefix|>")
    assert text.endswith("<|fim_middle|>")
    assert "shop/checkout.py" not in prompt.context_files  # the current file only as prefix/suffix
    assert text.count("def checkout(cart, code):") == 1


def test_moving_the_cursor_keeps_the_context_prefix_byte_identical(shop_repo, count):
    cache = ContextCache()
    a, _ = build(shop_repo, "shop/checkout.py", 7, 20, count, cache=cache)
    b, _ = build(shop_repo, "shop/checkout.py", 12, 4, count, cache=cache)
    assert a.stable_prefix_chars == b.stable_prefix_chars > len("<|repo_name|>shop\n")
    assert a.text[: a.stable_prefix_chars] == b.text[: b.stable_prefix_chars]


def test_packing_is_deterministic(shop_repo, count):
    a, _ = build(shop_repo, "shop/checkout.py", 7, 20, count)
    b, _ = build(shop_repo, "shop/checkout.py", 7, 20, count)
    assert a.text == b.text


def test_budgets_are_respected_with_the_real_tokenizer(shop_repo, count):
    big = "\n".join(f"    step_{i} = compute_invoice_total(items, {i})" for i in range(400))
    text = "from shop.pricing import compute_invoice_total\n\ndef f(items):\n" + big + "\n    return 1\n" + "# tail\n" * 200
    (shop_repo / "shop" / "big.py").write_text(text)
    options = PackOptions(context_tokens=60, prefix_tokens=300, suffix_tokens=50)
    prompt, ctx = build(shop_repo, "shop/big.py", 200, 4, count, options=options)
    assert ctx.tokens <= 60
    assert sum(s.tokens for s in ctx.snippets) == ctx.tokens
    prefix = prompt.text.split("<|fim_prefix|>")[1].split("<|fim_suffix|>")[0]
    suffix = prompt.text.split("<|fim_suffix|>")[1].split("<|fim_middle|>")[0]
    assert 0 < count(prefix) <= 300
    assert 0 < count(suffix) <= 50
    assert prompt.prefix_start_line % 32 == 1  # aligned start: typing does not move it


def test_plain_format_has_no_fim_tokens(shop_repo, count):
    index = Index(shop_repo)
    index.refresh()
    text = index.read_text("shop/checkout.py")
    ctx = gather_context(index, Ranker(index), "shop/checkout.py", 7, 20, budget=500, count_tokens=count)
    prefix, suffix = split_at(text, 7, 20)
    prompt = pack_prompt(PLAIN, "shop", "shop/checkout.py", prefix, suffix, ctx, PackOptions(), count)
    assert "<|" not in prompt.text
    assert "# file: shop/pricing.py" in prompt.text
    assert prompt.text.endswith("total = pricing.")
