"""LoRA adapters on a shared base model: verification, loading and a small LRU.

An adapter folder must hold ``adapter_config.json`` and ``adapter_model.safetensors``
and nothing pickle-based. Both files change what the model outputs (the config sets
``lora_alpha``, the target modules, the base model...), so the recorded checksum covers
both: :func:`adapter_sha256` is the sha256 of a framing of the two files' bytes,
``b"config\\0" + len + config bytes + b"weights\\0" + len + weights bytes`` (lengths as
8-byte big-endian), so no byte can move from one file to the other unnoticed. The files
are read into memory once, hashed, and the peft config and the state dict are built from
those same bytes, so neither file can be swapped between the check and the load.

The checksum stays 64 lowercase hex characters, so it fits the existing
``ModelVersion.adapter_sha256`` column (``max_length=64``, no room for a ``v2:`` prefix)
and every plain string comparison of a recorded value keeps working. Versions recorded
before the config was covered hold the sha256 of the weights file alone. Such a record
cannot vouch for the config, so it is refused rather than half-checked: the refusal
(:class:`AdapterChecksumError`) says it is a legacy weights-only checksum and that the
fix is to retrain, or to re-record it with :func:`adapter_sha256_upgrade` after checking
the config by hand (that function only upgrades a record whose weights still match).
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
    """Where a LoRA adapter lives and the checksum recorded for it
    (:func:`adapter_sha256`: its config and weights files together)."""

    path: str
    sha256: str

    @property
    def key(self) -> str:
        """Name used inside the model. Path and sha both count, so a folder is always
        checked (pickles, sha) before its first use even when the same files are
        loaded from another folder."""
        digest = hashlib.sha256(f"{self.path}\0{self.sha256.lower()}".encode()).hexdigest()
        return "a_" + digest[:16]


def adapter_sha256(adapter_dir: str | Path) -> str:
    """sha256 (hex) covering the adapter's ``adapter_config.json`` and
    ``adapter_model.safetensors`` (see the module docstring for the framing).

    This is the value to record when an adapter is trained and to pass back in
    :class:`AdapterRef`. It depends on the two files' bytes only, not on the folder's
    path. Raises AdapterError when either file is missing.
    """
    return _digest(*_read_files(Path(adapter_dir)))


def verify_adapter_sha256(adapter_dir: str | Path, recorded: str) -> None:
    """Raise AdapterChecksumError unless ``recorded`` is the folder's
    :func:`adapter_sha256`; the message tells a changed file from a legacy record."""
    folder = Path(adapter_dir)
    _check_recorded(folder, recorded, *_read_files(folder))


def adapter_sha256_upgrade(adapter_dir: str | Path, recorded: str) -> str:
    """The checksum to record in place of ``recorded`` for this folder.

    ``recorded`` may be a current checksum (returned as is, so running an upgrade twice
    is harmless) or a legacy weights-only sha256, which is only upgraded while the
    weights file still matches it. A legacy record never covered the config, so check
    ``adapter_config.json`` (or retrain) before re-recording. Raises
    AdapterChecksumError when the weights no longer match, AdapterError when a file is
    missing.
    """
    folder = Path(adapter_dir)
    config, weights = _read_files(folder)
    current = _digest(config, weights)
    if recorded.lower() in {current, hashlib.sha256(weights).hexdigest()}:
        return current
    raise AdapterChecksumError(
        f"adapter {folder}: the files match neither the recorded sha256 {recorded} nor "
        "a legacy weights-only checksum of it (a file was changed or replaced); "
        "not upgraded"
    )


def _digest(config: bytes, weights: bytes) -> str:
    digest = hashlib.sha256()
    for label, data in ((b"config", config), (b"weights", weights)):
        digest.update(label + b"\0" + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _read_files(folder: Path) -> tuple[bytes, bytes]:
    """(config bytes, weights bytes), each file read exactly once."""
    found = []
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        try:
            found.append((folder / name).read_bytes())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise AdapterError(f"adapter folder {folder} has no {name}") from exc
    return found[0], found[1]


def _check_recorded(folder: Path, recorded: str, config: bytes, weights: bytes) -> None:
    expected = recorded.lower()
    actual = _digest(config, weights)
    if actual == expected:
        return
    if hashlib.sha256(weights).hexdigest() == expected:
        raise AdapterChecksumError(
            f"adapter {folder}: the recorded sha256 {recorded} is a legacy checksum of "
            f"{ADAPTER_WEIGHTS} alone and does not cover {ADAPTER_CONFIG}, so the adapter "
            "is refused. Retrain the project to record a new version, or have an operator "
            f"check {ADAPTER_CONFIG} and re-record the checksum (it is only re-recorded "
            "while the weights still match): in the studio, run `python manage.py "
            "adapter_checksums_upgrade --apply`; elsewhere, use "
            "generation.adapters.adapter_sha256_upgrade"
        )
    raise AdapterChecksumError(
        f"adapter {folder}: sha256 of {ADAPTER_CONFIG} + {ADAPTER_WEIGHTS} is {actual}, "
        f"expected {recorded} (a file was changed or replaced)"
    )


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
    """Check the folder and the checksum, then return (peft LoraConfig, state dict),
    both built from the very bytes that were hashed."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    folder = Path(ref.path)
    check_adapter_dir(folder)
    config_bytes, weights = _read_files(folder)
    _check_recorded(folder, ref.sha256, config_bytes, weights)
    config = _lora_config(folder, config_bytes)
    try:
        state_dict = load_safetensors(weights)
    except (SafetensorError, ValueError, TypeError, OSError) as exc:
        raise AdapterError(f"adapter {folder} cannot be read: {exc}") from exc
    return config, state_dict


def _lora_config(folder: Path, data: bytes) -> Any:
    """What ``PeftConfig.from_pretrained`` builds, but from bytes already verified
    instead of a second read of the file."""
    from peft import LoraConfig

    try:
        attributes = json.loads(data)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise AdapterError(f"{folder / ADAPTER_CONFIG} is not valid JSON: {exc}") from exc
    if not isinstance(attributes, dict):
        raise AdapterError(f"{folder / ADAPTER_CONFIG} is not a JSON object")
    if attributes.get("peft_type") != "LORA":
        raise AdapterError(
            f"adapter {folder} is not a LoRA adapter (peft_type "
            f"{attributes.get('peft_type')!r})"
        )
    attributes.pop("runtime_config", None)  # runtime-only, as peft's own loader drops it
    try:
        return LoraConfig.from_peft_type(**LoraConfig.check_kwargs(**attributes))
    except (ValueError, TypeError, KeyError) as exc:
        raise AdapterError(f"adapter {folder} cannot be read: {exc}") from exc


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
