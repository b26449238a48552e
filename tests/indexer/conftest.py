"""Fixtures for the indexer tests (helpers live in ``indexer_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer_helpers import init_git, write_tree


@pytest.fixture
def make_repo(tmp_path):
    """Builds a repository from a dict of files: ``make_repo(files, use_git=True, name="repo")``."""

    def make(files: dict[str, str | bytes], *, use_git: bool = True, name: str = "repo") -> Path:
        root = write_tree(tmp_path / name, files)
        root.mkdir(parents=True, exist_ok=True)
        if use_git:
            init_git(root)
        return root

    return make
