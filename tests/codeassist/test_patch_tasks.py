"""The patch benchmark's task set (tests/bench/patch_tasks/) is sound: every check fails on the untouched
fixture and passes once the task's reference solution (``solutions/ID.diff``) is applied with ``git apply``;
and the parser handles the answers the default model gave in that benchmark.

No model runs here; a check that passed before the edit, or failed after a correct one, would make the
benchmark's check-passing rate meaningless.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeassist.edits import Edit, EditError, apply_edit, parse_edits

TASKS_DIR = Path(__file__).resolve().parents[1] / "bench" / "patch_tasks"
SOLUTIONS_DIR = TASKS_DIR / "solutions"
TASKS = json.loads((TASKS_DIR / "tasks.json").read_text())
LANGUAGES = {".py": "python", ".js": "javascript"}
CHECK_TIMEOUT = 60  # seconds


def fixture_languages(repo: str) -> set[str]:
    return {LANGUAGES[p.suffix] for p in (TASKS_DIR / repo).iterdir() if p.suffix in LANGUAGES}


def run_check(task: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(task["check"], shell=True, cwd=cwd, capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT, env=env)


def test_task_set_covers_what_the_issue_asks():
    ids = [t["id"] for t in TASKS]
    assert len(ids) >= 15
    assert len(set(ids)) == len(ids), "task ids must be unique"
    assert len(set().union(*(fixture_languages(t["repo"]) for t in TASKS))) >= 2
    assert {"rename", "add-param", "add-method", "off-by-one"} <= {t["kind"] for t in TASKS}
    for t in TASKS:
        assert {"id", "repo", "kind", "instruction", "check"} <= t.keys(), t
        assert (TASKS_DIR / t["repo"]).is_dir(), t["repo"]
    assert sorted(p.stem for p in SOLUTIONS_DIR.glob("*.diff")) == sorted(ids), "one solution per task, no orphans"


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_check_fails_before_and_passes_after_the_reference_solution(task, tmp_path):
    if "javascript" in fixture_languages(task["repo"]) and shutil.which("node") is None:
        pytest.skip("node is not installed (the JavaScript tasks' checks run it)")
    repo = tmp_path / task["repo"]
    shutil.copytree(TASKS_DIR / task["repo"], repo, ignore=shutil.ignore_patterns("__pycache__"))

    before = run_check(task, repo)
    assert before.returncode != 0, f"the check passes on the untouched fixture:\n{before.stdout}{before.stderr}"

    solution = SOLUTIONS_DIR / f"{task['id']}.diff"
    applied = subprocess.run(["git", "apply", "--verbose", str(solution)], cwd=repo, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr

    after = run_check(task, repo)
    assert after.returncode == 0, f"the check fails after the reference solution:\n{after.stdout}{after.stderr}"


# -- answers the default model gave in the benchmark (tests/bench/RESULTS.md), trimmed ------------------
FENCE_CLOSED_ANSWER = '''pricing.py
<<<<<<< SEARCH
TAX_RATE = 0.2


def calc_total(prices, tax_rate=0.2):
    subtotal = sum(prices)
    return round(subtotal * (1 + tax_rate), 2)
```

cart.py
<<<<<<< SEARCH
from pricing import apply_discount, calc_total
```

Instruction: Update the calc_total function to accept a tax_rate parameter.
'''

LONE_FRAGMENT_ANSWER = '''textutils.py
<<<<<<< SEARCH
def count_words(text):
>>>>>>> REPLACE
'''


def test_a_block_the_model_closed_with_a_fence_is_the_whole_new_file():
    edits = parse_edits(FENCE_CLOSED_ANSWER)
    assert edits == [
        Edit("pricing.py", "", "TAX_RATE = 0.2\n\n\ndef calc_total(prices, tax_rate=0.2):\n    subtotal = sum(prices)\n"
             "    return round(subtotal * (1 + tax_rate), 2)\n", whole=True),
        Edit("cart.py", "", "from pricing import apply_discount, calc_total\n", whole=True),
    ]


def test_a_block_without_divider_or_fence_before_the_next_block_is_still_an_error():
    with pytest.raises(EditError, match="no ======= divider"):
        parse_edits("a.py\n<<<<<<< SEARCH\nx = 1\n\nb.py\n<<<<<<< SEARCH\ny\n=======\nz\n>>>>>>> REPLACE\n")


def test_a_lone_fragment_read_as_a_whole_file_is_refused_not_written():
    content = (TASKS_DIR / "py_text" / "textutils.py").read_text()
    [edit] = parse_edits(LONE_FRAGMENT_ANSWER)
    with pytest.raises(EditError, match="keeps only 0 of its 11 lines"):
        apply_edit(content, edit)
    # a rewrite of the whole file that changes one line, or one that leaves out the file's tail, still applies
    one_line = apply_edit(content, parse_edits("textutils.py\n<<<<<<< SEARCH\n"
                                               + content.replace("- n - 1:", "- n:") + ">>>>>>> REPLACE\n")[0])
    assert one_line == content.replace("- n - 1:", "- n:")
    head_only = apply_edit(content, parse_edits("textutils.py\n<<<<<<< SEARCH\ndef count_words(text):\n"
                                                "    return len(text.split())\n>>>>>>> REPLACE\n")[0])
    assert head_only == content.replace("word_count", "count_words")
