"""A refresh cancelled through its progress callback rolls back and stops early."""

import pytest

from indexer.index import Index


class Stop(Exception):
    pass


def test_cancelled_refresh_keeps_the_previous_index(tmp_path):
    for i in range(150):  # enough files for the process pool
        (tmp_path / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    index = Index(tmp_path)
    assert index.refresh().files == 150
    for i in range(150):
        (tmp_path / f"m{i}.py").write_text(f"def g{i}():\n    return {i}\n")

    def cancel(done, total):
        if done >= 20:
            raise Stop

    with pytest.raises(Stop):
        index.refresh(cancel)
    assert index.symbols("f0") and not index.symbols("g0")  # all or nothing: the old index stands
    assert index.refresh().reparsed == 150
    assert index.symbols("g0") and not index.symbols("f0")
