"""Loading a causal code LM and its tokenizer: the built-in default, a GGUF file, or a Hugging Face directory.

GGUF files are dequantized by transformers (through ``gguf``), which takes ~40 s for the default model; the
result is saved once as a safetensors checkpoint (with tokenizer and chat template) under
``<cache>/converted/<sha256 prefix>/`` so later starts load in about a second. Nothing is downloaded unless
the user names a hub id and the network allows it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeassist import weights

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"  # the built-in Qwen2.5-Coder-0.5B-Instruct GGUF, see codeassist.weights
MODEL_ENV = "CODEASSIST_MODEL"  # environment variable naming the model when --model is not given
DEFAULT_DTYPE = "bfloat16"  # measured faster than float32 for decode on this CPU (8.8 vs 6.1 tokens/s)
DTYPE_ENV = "CODEASSIST_DTYPE"  # bfloat16 | float32 | int8 (dynamic int8 quantisation of the linear layers)
DTYPES = ("bfloat16", "float32", "int8")
THREADS_ENV = "CODEASSIST_THREADS"  # torch threads for inference; default: torch's own (all cores)
# With more torch threads than free cores, decode collapses (measured here with one core busy: 7.2 tokens/s
# on 1 thread, 1.1 on 2), so a machine shared with other work should set CODEASSIST_THREADS.


class ModelError(RuntimeError):
    """A model could not be found, verified or loaded; the message says what to do."""


@dataclass
class LoadedModel:
    """A model ready for inference, with what the packer and engine need to know about it."""

    model: Any  # transformers PreTrainedModel (causal LM)
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    name: str
    source: str  # path or id the weights came from
    native_context: int  # tokens: the window the model was trained on
    load_seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def resolve_model_name(explicit: str | None) -> str:
    """The model the user asked for: ``--model``, then ``$CODEASSIST_MODEL``, then the built-in default."""
    return explicit or os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def _converted_dir(source_sha: str, dtype: str = DEFAULT_DTYPE) -> Path:
    """Where a GGUF's dequantized checkpoint is cached: keyed by the source hash and the saved dtype."""
    suffix = "" if dtype == DEFAULT_DTYPE else f"-{dtype}"
    return weights.cache_dir() / "converted" / (source_sha[:16] + suffix)


def _file_sha256(path: Path) -> str:
    """SHA-256 of a user's GGUF file, remembered next to the cache keyed by (path, size, mtime)."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = weights.cache_dir() / "hashes" / key
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    sha = weights.sha256_file(path)
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(sha)
    return sha


def convert_gguf(gguf: Path, dest: Path, *, dtype: str = DEFAULT_DTYPE) -> Path:
    """Dequantizes ``gguf`` through transformers and saves a safetensors checkpoint at ``dest`` atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype))
    # transformers refuses save_pretrained on GGUF-loaded models ("quantized with gguf and is not
    # serializable"); after dequantization the weights are plain tensors, so drop the quantizer marks.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "codeassist-source.txt").write_text(f"{gguf}\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process converted it first
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s in %.1f s", gguf, time.perf_counter() - t0)
    return dest


def prepare_checkpoint(name: str, progress: weights.ProgressFn | None = None, *,
                       dtype: str = DEFAULT_DTYPE) -> tuple[Path, str]:
    """Maps a model name to a loadable Hugging Face directory, converting a GGUF once; returns (dir, source)."""
    if name == DEFAULT_MODEL:
        gguf = weights.default_gguf_path()
        if not weights.is_verified(gguf):
            try:
                gguf = weights.install_default(progress)
            except weights.WeightsError as e:
                raise ModelError(str(e)) from e
        sha = weights.DEFAULT_GGUF_SHA256
    else:
        path = Path(name).expanduser()
        if path.is_dir():
            return path, str(path)
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ModelError(f"GGUF file {path} does not exist")
            gguf, sha = path, _file_sha256(path)
        elif path.exists() or "/" not in name or name.startswith((".", "/", "~")):
            raise ModelError(f"{name!r} is neither a model directory, a .gguf file nor a hub id (owner/name)")
        else:
            return Path(name), name  # a hub id: transformers resolves it (offline unless allowed)
    dest = _converted_dir(sha, dtype)
    if not (dest / "config.json").is_file():
        convert_gguf(gguf, dest, dtype=dtype)
    return dest, str(gguf)


def load_model(
    name: str | None = None,
    *,
    dtype: str | None = None,
    progress: weights.ProgressFn | None = None,
) -> LoadedModel:
    """Loads the named model (see ``resolve_model_name``) for CPU inference in eval mode.

    ``dtype`` (default ``$CODEASSIST_DTYPE`` or bfloat16): "int8" loads float32 weights and quantises every
    linear layer to int8 with dynamic activation scales (torch.ao), measured 3.4x faster decode than
    bfloat16 on one core here (23.8 vs 7.0 tokens/s) for ~13 s more start-up, but its output is not
    equal: it fails the cross-file completion test that bfloat16 passes, so bfloat16 stays the default.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress is ours to show (rich, $/progress), not tqdm's
    if threads := os.environ.get(THREADS_ENV):
        try:
            torch.set_num_threads(max(1, int(threads)))
        except ValueError:
            raise ModelError(f"{THREADS_ENV}={threads!r} is not a number of threads") from None
    name = resolve_model_name(name)
    dtype = dtype or os.environ.get(DTYPE_ENV) or DEFAULT_DTYPE
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    t0 = time.perf_counter()
    stored = DEFAULT_DTYPE if dtype == "int8" else dtype
    directory, source = prepare_checkpoint(name, progress, dtype=stored)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32 if dtype == "int8" else getattr(torch, dtype))
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load model {name!r} from {directory}: {e}") from e
    model.eval()
    if dtype == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    else:
        from codeassist import gemv

        _copy_out_of_mmap(model)
        gemv.install(model)  # one-token products through torch.mv: bitwise equal, faster (codeassist.gemv)
    native = _native_context(model.config)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=weights.DEFAULT_MODEL_NAME if name == DEFAULT_MODEL else name,
        source=source,
        native_context=native,
        load_seconds=time.perf_counter() - t0,
        info={"dtype": dtype, "checkpoint": str(directory)},
    )


def _copy_out_of_mmap(model: Any) -> None:
    """Copies every parameter into ordinary process memory (ties kept: a shared parameter is copied once).

    transformers may leave safetensors weights backed by the memory-mapped checkpoint file; decode reads all
    weights once per token, and from the mapping it was measured 14% slower (a decode step of the default
    model 64 ms against 55 ms on 2 threads). Costs ~0.3 s at load.
    """
    import torch

    with torch.no_grad():
        for param in model.parameters():
            param.data = param.data.clone()


def _native_context(config: Any) -> int:
    """The trained window in tokens: ``original_max_position_embeddings`` of a scaled config, else the max."""
    params = getattr(config, "rope_parameters", None) or {}
    return int(params.get("original_max_position_embeddings") or config.max_position_embeddings)

