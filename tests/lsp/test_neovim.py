"""A real editor no one here wrote: Debian's Neovim (headless, its built-in LSP client) gets a completion.

Install it with ``apt-get install -y neovim`` (0.7 or newer); without ``nvim`` on PATH the test is skipped.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.codeassist.conftest import FIXTURES, make_git_repo

SCRIPT = Path(__file__).with_name("nvim") / "complete.lua"


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("codeassist")
    return [str(script), "lsp"] if script.exists() else [sys.executable, "-m", "codeassist", "lsp"]


def nvim_version(nvim: str) -> tuple[int, ...]:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout.split("\n", 1)[0]
    return tuple(int(x) for x in first.removeprefix("NVIM v").split("-", 1)[0].split(".")[:2])


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed (apt-get install -y neovim)")
def test_neovim_starts_the_server_opens_a_file_and_receives_a_completion(tmp_path):
    nvim = shutil.which("nvim")
    if nvim_version(nvim) < (0, 7):
        pytest.skip(f"Neovim {nvim_version(nvim)} is older than 0.7, whose LSP client this test drives")
    repo = make_git_repo(FIXTURES / "shop", tmp_path / "shop")
    out = tmp_path / "result.json"
    env = {**os.environ, "CODEASSIST_CMD": json.dumps(server_command()), "CODEASSIST_ROOT": str(repo),
           "CODEASSIST_FILE": str(repo / "shop/checkout.py"), "CODEASSIST_LINE": "6", "CODEASSIST_CHARACTER": "20",
           "CODEASSIST_OUT": str(out)}
    proc = subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPT}"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert not result.get("error"), result
    assert "ready" in result["statuses"]  # the server's codeassist/status notifications reached the editor
    items = result["response"]["result"]["items"]
    assert items[0]["textEdit"]["newText"].startswith("compute_invoice_total("), items
