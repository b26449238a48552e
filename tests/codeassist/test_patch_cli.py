"""`codeassist apply`, `undo` and `patch` as a user runs them; `patch` with the real default model."""

import json
import subprocess
import sys

from codeassist.verify import parse_errors
from tests.codeassist.test_apply import git


def cli(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "codeassist", *args], capture_output=True, text=True,
                          input=input, cwd=cwd, timeout=900)


BLOCKS = """shop/pricing.py
<<<<<<< SEARCH
def apply_discount_code(total, code):
=======
def apply_discount(total, code):
>>>>>>> REPLACE

shop/checkout.py
<<<<<<< SEARCH
    return pricing.apply_discount_code(total, code)
=======
    return pricing.apply_discount(total, code)
>>>>>>> REPLACE
"""


def test_apply_from_stdin_then_undo(shop_repo):
    before = {p: (shop_repo / p).read_bytes() for p in ("shop/pricing.py", "shop/checkout.py")}
    res = cli("apply", "-", "--repo", str(shop_repo), "--yes", "--json", input=BLOCKS)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["files"] == ["shop/pricing.py", "shop/checkout.py"]
    assert "def apply_discount(total, code)" in (shop_repo / "shop/pricing.py").read_text()
    res = cli("undo", "--repo", str(shop_repo), "--json")
    assert sorted(json.loads(res.stdout)["restored"]) == ["shop/checkout.py", "shop/pricing.py"]
    assert {p: (shop_repo / p).read_bytes() for p in before} == before


def test_apply_dry_run_and_hostile_input_write_nothing(shop_repo, tmp_path):
    res = cli("apply", "-", "--repo", str(shop_repo), "--dry-run", input=BLOCKS)
    assert res.returncode == 0 and "shop/pricing.py" in res.stdout
    assert git(shop_repo, "status", "--porcelain") == ""
    hostile = "../escape.py\n<<<<<<< SEARCH\n=======\nowned = True\n>>>>>>> REPLACE\n"
    res = cli("apply", "-", "--repo", str(shop_repo), "--yes", input=hostile)
    assert res.returncode == 2 and "'..'" in res.stderr
    assert not (shop_repo.parent / "escape.py").exists()
    res = cli("apply", "-", "--repo", str(shop_repo), "--yes", input="no edits here")
    assert res.returncode == 2 and "no unified diff" in res.stderr


def test_apply_refuses_without_confirmation_when_not_interactive(shop_repo):
    patch = shop_repo / "p.txt"
    patch.write_text(BLOCKS)
    res = cli("apply", str(patch), "--repo", str(shop_repo))
    assert res.returncode == 2 and "--yes" in res.stderr


def test_patch_dry_run_with_the_real_model(shop_repo, default_model):
    out = shop_repo.parent / "proposed.diff"
    res = cli("patch", "Rename the function apply_discount_code to apply_discount and update its callers.",
              "--repo", str(shop_repo), "--dry-run", "--json", "--max-new-tokens", "320", "--output", str(out))
    assert res.returncode in (0, 1), res.stderr
    summary = json.loads(res.stdout)
    assert summary["files_shown"][:2] == ["shop/pricing.py", "shop/checkout.py"]
    assert 1 <= summary["attempts"] <= 3
    assert git(shop_repo, "status", "--porcelain") == ""  # dry run: nothing written
    if summary["ok"]:
        # whatever it proposed applies cleanly with git and parses no worse than before
        # (checkout.py has a deliberate syntax error: tree-sitter error nodes must not increase)
        before = {c["path"]: parse_errors(c["path"], _read(shop_repo / c["path"])) for c in summary["changes"]}
        git(shop_repo, "apply", "--check", str(out))
        git(shop_repo, "apply", str(out))
        for path, errors in before.items():
            assert parse_errors(path, _read(shop_repo / path)) <= errors, path


def _read(path):
    return path.read_bytes() if path.exists() else None
