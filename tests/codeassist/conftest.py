"""Fixtures for the core's tests: a tiny random model for engine logic, the real default model, fixture repos."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).with_name("fixtures")


class CharTokenizer:
    """A fake tokenizer for the tiny random model: token i decodes to one letter (unit tests only)."""

    eos_token_id = 0

    def decode(self, ids, skip_special_tokens=False):
        return "".join(chr(97 + i % 26) for i in ids)


@pytest.fixture(scope="session")
def tiny_model():
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(cfg).eval()


@pytest.fixture(scope="session")
def default_model():
    """The real built-in model (Qwen2.5-Coder-0.5B), installed by `codeassist model install`."""
    if os.environ.get("CODEASSIST_SKIP_MODEL_TESTS") == "1":
        pytest.skip("CODEASSIST_SKIP_MODEL_TESTS=1")
    from codeassist.models import load_model

    return load_model()


def make_git_repo(src: Path, dest: Path) -> Path:
    """Copies a fixture tree to ``dest`` and commits it in a fresh git repository."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".codeassist", "__pycache__"))  # no stale index
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "fixture"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env)
    return dest


@pytest.fixture
def shop_repo(tmp_path):
    return make_git_repo(FIXTURES / "shop", tmp_path / "shop")
