"""End-to-end completions with the real default model (Qwen2.5-Coder-0.5B) on fixture repositories."""

import json
import subprocess
import sys

import pytest

from codeassist.completion import CompletionRequest, CompletionService
from codeassist.engine import Cancelled
from indexer.index import Index


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from tests.codeassist.conftest import FIXTURES, make_git_repo

    return make_git_repo(FIXTURES / "shop", tmp_path_factory.mktemp("repo") / "shop")


@pytest.fixture(scope="module")
def service(shop, default_model):
    index = Index(shop)
    index.refresh()
    return CompletionService(index, loaded=default_model)


def test_context_brings_in_the_function_from_another_file(service):
    # checkout.py only says `pricing.`: the name compute_invoice_total lives in shop/pricing.py
    with_ctx = service.complete(CompletionRequest("shop/checkout.py", 7, 20))
    without = service.complete(CompletionRequest("shop/checkout.py", 7, 20, use_context=False))
    assert "shop/pricing.py" in with_ctx.context_files
    assert with_ctx.completion.startswith("compute_invoice_total("), with_ctx.completion
    assert "compute_invoice_total" not in without.completion, without.completion
    assert without.context_files == []


def test_second_request_reuses_the_kv_cache(service):
    service.complete(CompletionRequest("shop/checkout.py", 7, 20))
    again = service.complete(CompletionRequest("shop/checkout.py", 7, 20))
    assert again.cached_tokens >= again.prompt_tokens - 1
    assert again.rope_scaling == "default"


def test_unsaved_buffer_is_completed_without_touching_disk(service, shop):
    on_disk = (shop / "shop/checkout.py").read_text()
    text = on_disk.replace("    total = pricing.\n", "    total = pricing.apply_discount_code(pricing.\n")
    result = service.complete(CompletionRequest("shop/checkout.py", 7, len("    total = pricing.apply_discount_code(pricing."), text=text))
    assert result.completion
    assert (shop / "shop/checkout.py").read_text() == on_disk


def test_cancellation_stops_generation(service):
    tokens = []
    with pytest.raises(Cancelled):
        service.complete(CompletionRequest("shop/inventory.py", 11, 0, max_new_tokens=40),
                         on_text=tokens.append, cancel=lambda: len(tokens) >= 2)
    assert len(tokens) == 2


def test_cli_complete_json_and_batch(shop, default_model):
    cmd = [sys.executable, "-m", "codeassist", "complete", "shop/checkout.py:7:21", "--repo", str(shop), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert set(data) >= {"completion", "model", "prompt_tokens", "cached_tokens", "context_files", "rope_scaling", "latency_ms"}
    assert data["completion"].startswith("compute_invoice_total(")

    buffer = (shop / "shop/checkout.py").read_text().replace("pricing.\n", "pricing.apply_\n", 1)
    requests = "\n".join([
        json.dumps({"path": "shop/checkout.py", "line": 7, "column": 21}),
        json.dumps({"path": "shop/checkout.py", "line": 7, "column": 27, "text": buffer}),
        json.dumps({"path": "shop/checkout.py", "line": 99, "column": 1}),
    ])
    res = subprocess.run([sys.executable, "-m", "codeassist", "complete", "--batch", "-", "--repo", str(shop)],
                         input=requests, capture_output=True, text=True, timeout=600)
    lines = [json.loads(l) for l in res.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["completion"].startswith("compute_invoice_total(")
    assert lines[1]["completion"].startswith("discount_code("), lines[1]
    assert "outside" in lines[2]["error"]
    assert res.returncode == 2
