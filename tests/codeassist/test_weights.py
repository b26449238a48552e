"""Assembling and verifying the default model's weights from their parts."""

import hashlib

import pytest

from codeassist import weights
from codeassist.weights import Part, WeightsError


def make_parts(tmp_path, chunks):
    parts = []
    for i, data in enumerate(chunks, 1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        parts.append(Part(f"part{i}", p, len(data)))
    return parts


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    chunks = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
    whole = b"".join(chunks)
    dest = tmp_path / "out" / "model.gguf"
    seen = []
    weights.assemble(make_parts(tmp_path, chunks), dest, expected_sha256=hashlib.sha256(whole).hexdigest(),
                     expected_size=len(whole), progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole))


def test_assemble_rejects_a_corrupted_part_and_leaves_nothing(tmp_path):
    chunks = [b"a" * 10, b"b" * 10]
    good_sha = hashlib.sha256(b"".join(chunks)).hexdigest()
    parts = make_parts(tmp_path, [b"a" * 10, b"b" * 9 + b"X"])  # same size, one byte flipped
    dest = tmp_path / "model.gguf"
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        weights.assemble(parts, dest, expected_sha256=good_sha, expected_size=20)
    assert not dest.exists()
    assert list(tmp_path.glob("*.partial")) == []


def test_assemble_rejects_wrong_total_size(tmp_path):
    parts = make_parts(tmp_path, [b"a" * 10])
    with pytest.raises(WeightsError, match="add up to 10 bytes"):
        weights.assemble(parts, tmp_path / "m.gguf", expected_sha256="0" * 64, expected_size=11)


def test_verify_detects_corruption(tmp_path):
    p = tmp_path / "m.gguf"
    p.write_bytes(b"hello")
    weights.verify(p, hashlib.sha256(b"hello").hexdigest())
    p.write_bytes(b"hellO")
    with pytest.raises(WeightsError, match="mismatch"):
        weights.verify(p, hashlib.sha256(b"hello").hexdigest())
    with pytest.raises(WeightsError, match="does not exist"):
        weights.verify(tmp_path / "missing.gguf")


def test_verified_marker_is_invalidated_by_a_change(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEASSIST_HOME", str(tmp_path))
    p = weights.default_gguf_path()
    p.parent.mkdir(parents=True)
    p.write_bytes(b"x" * 10)
    weights._write_marker(p)
    assert weights.is_verified(p)
    p.write_bytes(b"y" * 11)
    assert not weights.is_verified(p)


def test_installed_parts_are_the_pinned_ones():
    parts = weights.find_parts()
    assert [p.distribution for p in parts] == list(weights.PART_DISTRIBUTIONS)
    assert sum(p.size for p in parts) == weights.DEFAULT_GGUF_SIZE


def test_installed_default_model_verifies():
    path = weights.default_gguf_path()
    assert weights.is_verified(path), "run: codeassist model install"
    weights.verify(path)
