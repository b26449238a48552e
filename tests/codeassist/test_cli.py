"""The command line as a user meets it: JSON shapes, exit codes and messages on bad input."""

import json
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "codeassist", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_index_json(shop_repo):
    res = cli("index", str(shop_repo), "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["files"] == 4 and data["languages"] == {"python": 4}
    assert data["reparsed"] == 4 and data["symbols"] >= 8
    assert json.loads(cli("index", str(shop_repo), "--json").stdout)["reparsed"] == 0


def test_index_human_output_shows_top_symbols(shop_repo):
    res = cli("index", str(shop_repo))
    assert res.returncode == 0, res.stderr
    assert "4 files" in res.stdout and "Top symbols" in res.stdout


def test_symbols_json(shop_repo):
    res = cli("symbols", "compute_invoice_total", "--repo", str(shop_repo), "--json")
    assert json.loads(res.stdout)[0] | {"signature": None, "scope": None} == {
        "name": "compute_invoice_total", "kind": "function", "path": "shop/pricing.py", "line": 4,
        "signature": None, "scope": None}
    missing = cli("symbols", "nope", "--repo", str(shop_repo))
    assert missing.returncode == 1 and "no definition" in missing.stdout


def test_context_json(shop_repo):
    res = cli("context", "shop/checkout.py:7:21", "--repo", str(shop_repo), "--json", "--budget", "400")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["snippets"][0]["path"] == "shop/pricing.py"
    assert set(data["snippets"][0]) == {"path", "start_line", "end_line", "score", "reason"}
    assert 0 < data["tokens"] <= 400


@pytest.mark.parametrize("args, message", [
    (["index", "/nonexistent/dir"], "is not a directory"),
    (["context", "shop/checkout.py:99:1"], "line 99 is outside"),
    (["context", "shop/checkout.py:7:80"], "past the end of line 7"),
    (["context", "shop/checkout.py"], "is not PATH:LINE:COLUMN"),
    (["context", "../../etc/passwd:1:1"], "outside the repository"),
    (["context", "shop/missing.py:1:1"], "is not a file"),
])
def test_bad_input_gets_a_clear_message_and_exit_code_2(shop_repo, args, message):
    if args[0] == "context":
        args = [*args, "--repo", str(shop_repo)]
    res = cli(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_empty_repository(tmp_path):
    res = cli("index", str(tmp_path), "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["files"] == 0
