"""LoRA adapters on a shared base model: verification, loading and a small LRU.

An adapter folder must hold ``adapter_config.json`` and ``adapter_model.safetensors``
and nothing pickle-based. Its weights are read into memory once, hashed, and loaded
from those same bytes, so the file cannot be swapped between the check and the load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.errors import AdapterChecksumError, AdapterError, UnsafeAdapterError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Formats that unpickle (and so can run code) when loaded. Refused outright.
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy",
                   ".npz", ".dill"}


@dataclass(frozen=True)
class AdapterRef:
    """Where a LoRA adapter lives and the sha256 recorded for its weights file."""

    path: str
    sha256: str

    @property
    def key(self) -> str:
        """Name used inside the model. Path and sha both count, so a folder is always
        checked (pickles, sha) before its first use even when the same weights are
        loaded from another folder."""
        digest = hashlib.sha256(f"{self.path}\0{self.sha256.lower()}".encode()).hexdigest()
        return "a_" + digest[:16]


def adapter_sha256(adapter_dir: str | Path) -> str:
    """sha256 (hex) of the adapter's weights file ``adapter_model.safetensors``.

    This is the value to record when an adapter is trained and to pass back in
    :class:`AdapterRef`. Raises AdapterError when the file is missing.
    """
    return hashlib.sha256(_read_weights(Path(adapter_dir))).hexdigest()


def _read_weights(folder: Path) -> bytes:
    weights = folder / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise AdapterError(f"adapter folder {folder} has no {ADAPTER_WEIGHTS}")
    return weights.read_bytes()


def check_adapter_dir(folder: Path) -> None:
    """Refuse a missing folder, a pickle file anywhere in it, or a bad config."""
    if not folder.is_dir():
        raise AdapterError(f"adapter folder {folder} does not exist")
    unsafe = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )
    if unsafe:
        raise UnsafeAdapterError(
            f"adapter folder {folder} holds pickle-based files, which are never loaded: "
            + ", ".join(unsafe)
        )
    config = folder / ADAPTER_CONFIG
    if not config.is_file():
        raise AdapterError(f"adapter folder {folder} has no {ADAPTER_CONFIG}")
    try:
        json.loads(config.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{config} is not valid JSON: {exc}") from exc


def read_verified_adapter(ref: AdapterRef) -> tuple[Any, dict[str, Any]]:
    """Check the folder and the sha256, then return (peft config, state dict)."""
    from peft import PeftConfig
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    folder = Path(ref.path)
    check_adapter_dir(folder)
    data = _read_weights(folder)
    actual = hashlib.sha256(data).hexdigest()
    if actual != ref.sha256.lower():
        raise AdapterChecksumError(
            f"adapter {folder}: weights sha256 is {actual}, expected {ref.sha256} "
            "(the file was changed or replaced)"
        )
    try:
        state_dict = load_safetensors(data)
        config = PeftConfig.from_pretrained(str(folder))
    except (SafetensorError, ValueError, TypeError, OSError) as exc:
        raise AdapterError(f"adapter {folder} cannot be read: {exc}") from exc
    return config, state_dict


class AdapterCache:
    """Keeps up to ``capacity`` adapters loaded into one base model (least recently used
    evicted) and activates one at a time. The base model is never reloaded."""

    def __init__(self, model: Any, capacity: int = 4) -> None:
        if capacity < 1:
            raise ValueError("adapter cache capacity must be at least 1")
        self.model = model
        self.capacity = capacity
        self._loaded: OrderedDict[str, AdapterRef] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # adapter loads from disk, for tests and logs
        self.evictions = 0

    @property
    def loaded(self) -> list[str]:
        """Keys of the loaded adapters, least recently used first."""
        return list(self._loaded)

    def ensure_loaded(self, ref: AdapterRef) -> str:
        """Load ``ref`` (verified) unless it is already loaded; return its key."""
        with self._lock:
            key = ref.key
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return key
            config, state_dict = read_verified_adapter(ref)
            while len(self._loaded) >= self.capacity:
                old, _ = self._loaded.popitem(last=False)
                self.model.delete_adapter(old)
                self.evictions += 1
            try:
                self.model.load_adapter(
                    adapter_name=key, peft_config=config, adapter_state_dict=state_dict
                )
            except Exception as exc:  # peft/transformers raise many types on a mismatch
                with contextlib.suppress(Exception):
                    self.model.delete_adapter(key)
                raise AdapterError(f"adapter {ref.path} does not fit this base model: {exc}") from exc
            self._loaded[key] = ref
            self.loads += 1
            return key

    @contextlib.contextmanager
    def active(self, ref: AdapterRef | None) -> Iterator[None]:
        """Run the block with ``ref`` active, or with the plain base model for None."""
        if ref is None:
            if not self._loaded:
                yield
                return
            self.model.disable_adapters()
            try:
                yield
            finally:
                self.model.enable_adapters()
            return
        key = self.ensure_loaded(ref)
        self.model.set_adapter(key)
        yield
