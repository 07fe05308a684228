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

A bad adapter must hurt only the jobs that use it. The weights file may hold LoRA
tensors only (anything else would be written into the shared base model, for every
project); the load report must match the config exactly (no missing, unexpected or
mis-shaped tensor: a half-fitting adapter would silently write with random or dropped
weights); and when anything fails, in our checks or inside transformers/peft, the
:class:`AdapterCache` takes the half-added adapter out again. When peft cannot do that
itself (the library is the fault: a transformers release that refuses the installed peft), the
cache unwraps every peft layer with plain torch and the model is the plain base again:
same parameter names as when it was loaded, no peft attribute left.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.errors import (
    AdapterChecksumError,
    AdapterError,
    EngineStateError,
    UnsafeAdapterError,
)

log = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Formats that unpickle (and so can run code) when loaded. Refused outright.
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy",
                   ".npz", ".dill"}
# Names of the tensors a LoRA adapter may hold (A/B matrices and their optional biases,
# embedding LoRA, DoRA magnitudes). Any other tensor would be loaded into the base model
# itself, for every project, and could not be taken out again.
_LORA_TENSOR = re.compile(
    r"\.(lora_[AB]\.(weight|bias)|lora_embedding_[AB]|lora_magnitude_vector(\.weight)?)$"
)
# The libraries that load an adapter: a load check records their versions.
LIBRARIES = ("torch", "transformers", "peft")


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
            + f". Fix: an adapter is {ADAPTER_CONFIG} + {ADAPTER_WEIGHTS} only; delete "
            "those files if the safetensors weights are there, or retrain the project"
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
    foreign = sorted(name for name in state_dict if not _LORA_TENSOR.search(name))
    if foreign:
        raise AdapterError(
            f"{folder / ADAPTER_WEIGHTS} holds {len(foreign)} tensor(s) that are not LoRA "
            f"weights ({_some(foreign)}); loading them would overwrite the shared base "
            "model. Fix: retrain the project (the studio's trainer saves LoRA weights only)"
        )
    if not state_dict:
        raise AdapterError(f"{folder / ADAPTER_WEIGHTS} holds no LoRA weights; retrain")
    return config, state_dict


def _some(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that load adapters (metadata only: nothing is
    imported), for the record of a load check."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
    evicted) and activates one at a time. The base model is never reloaded.

    Isolation: an adapter that fails to load or to switch on is taken out again (peft's
    ``delete_adapter``), and when that fails too, or leaves a trace, or no adapter is
    left, :meth:`reset` unwraps the model back to the plain base with plain torch. A
    request for the base model never depends on peft working: when switching adapters
    off fails, the cache resets and the request runs on the plain base. If even the
    reset cannot restore the base's parameter names, :attr:`broken` says why and the
    owner should load the base again (the worker does).
    """

    def __init__(self, model: Any, capacity: int = 4) -> None:
        if capacity < 1:
            raise ValueError("adapter cache capacity must be at least 1")
        self.model = model
        self.capacity = capacity
        self._loaded: OrderedDict[str, AdapterRef] = OrderedDict()
        self._lock = threading.RLock()
        # What the plain base looks like: a reset must give exactly these names back.
        self._base_names = frozenset(model.state_dict())
        self.loads = 0  # adapter loads from disk, for tests and logs
        self.evictions = 0
        self.resets = 0  # times the model was unwrapped back to the plain base
        self.broken = ""  # why the base could not be restored ("" while it is sound)

    @property
    def loaded(self) -> list[str]:
        """Keys of the loaded adapters, least recently used first."""
        return list(self._loaded)

    @property
    def is_plain_base(self) -> bool:
        """True when no peft layer or attribute is left in the model."""
        return (not any(_is_peft_layer(m) for m in self.model.modules())
                and "peft_config" not in vars(self.model)
                and frozenset(self.model.state_dict()) == self._base_names)

    def ensure_loaded(self, ref: AdapterRef) -> str:
        """Load ``ref`` (verified) unless it is already loaded, and make sure it can be
        switched on; return its key. On any failure the model is left without it and
        AdapterError says why (naming the file and the fix where there is one)."""
        with self._lock:
            key = ref.key
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return key
            # Every check that needs no model runs first: a refusal here touches nothing.
            config, state_dict = read_verified_adapter(ref)
            while len(self._loaded) >= self.capacity:
                old, _ = self._loaded.popitem(last=False)
                self.evictions += 1
                self._take_out(old)
            try:
                report = self.model.load_adapter(
                    adapter_name=key, peft_config=config, adapter_state_dict=state_dict
                )
                _check_load_report(ref, key, report)
                self.model.set_adapter(key)  # switching on is part of a good load
            except Exception as exc:  # transformers/peft raise many types; all are the adapter's
                self._take_out_quietly(key)
                if isinstance(exc, AdapterError):
                    raise
                raise _load_error(ref, exc) from exc
            self._loaded[key] = ref
            self.loads += 1
            return key

    def reset(self) -> None:
        """Drop every adapter and unwrap the model to the plain base it was.

        Plain torch only (no transformers or peft call: they may be what fails): each
        peft layer is replaced in its parent by the base layer it wraps, and the peft
        attributes of the model are removed. Sets :attr:`broken` when the result does not
        have the base's parameter names.
        """
        with self._lock:
            self._loaded.clear()
            self.resets += 1
            _unwrap(self.model)
            for name in ("peft_config", "_hf_peft_config_loaded", "_hotswap_enabled",
                         "_prepare_peft_hotswap_kwargs"):
                vars(self.model).pop(name, None)
            self.model.eval()
            if not self.is_plain_base:
                self.broken = ("the base model could not be restored after an adapter "
                               "failed; it must be loaded again")
                log.error("adapter cache: %s", self.broken)
                raise EngineStateError(self.broken)
            log.info("adapter cache: back to the plain base model (reset %d)", self.resets)

    def _take_out(self, key: str) -> None:
        """Remove adapter ``key`` (evicted or failed); reset when peft cannot, when it
        leaves a trace, or when no adapter is left (so no peft state lingers)."""
        self._loaded.pop(key, None)
        if self._loaded:
            try:
                if key in (getattr(self.model, "peft_config", None) or {}):
                    self.model.delete_adapter(key)
                if not self._traces(key):
                    return
            except Exception as exc:  # noqa: BLE001 - the reset below is the remedy
                log.warning("adapter cache: deleting %s failed (%s: %s); resetting",
                            key, type(exc).__name__, exc)
        self.reset()

    def _take_out_quietly(self, key: str) -> None:
        """:meth:`_take_out` after an adapter failed: the adapter's error is the one to
        report; a base that could not be restored is left in :attr:`broken`."""
        with contextlib.suppress(EngineStateError):
            self._take_out(key)

    def _traces(self, key: str) -> bool:
        if key in (getattr(self.model, "peft_config", None) or {}):
            return True
        marker = f".{key}"
        return any(marker + "." in name or name.endswith(marker)
                   for name in self.model.state_dict())

    @contextlib.contextmanager
    def active(self, ref: AdapterRef | None) -> Iterator[None]:
        """Run the block with ``ref`` active, or with the plain base model for None."""
        if ref is None:
            with self._base_only():
                yield
            return
        with self._lock:
            key = self.ensure_loaded(ref)
            try:
                self.model.set_adapter(key)
            except Exception as exc:
                self._take_out_quietly(key)
                raise _load_error(ref, exc) from exc
        yield

    @contextlib.contextmanager
    def _base_only(self) -> Iterator[None]:
        with self._lock:
            disabled = False
            if self._loaded:
                try:
                    self.model.disable_adapters()
                    disabled = True
                except Exception as exc:  # noqa: BLE001 - base requests must not need peft
                    log.warning("adapter cache: switching adapters off failed (%s: %s); "
                                "resetting to the plain base", type(exc).__name__, exc)
                    self.reset()
        try:
            yield
        finally:
            if disabled:
                try:
                    self.model.enable_adapters()
                except Exception as exc:  # noqa: BLE001
                    log.warning("adapter cache: switching adapters on failed (%s: %s); "
                                "resetting", type(exc).__name__, exc)
                    self.reset()


def _is_peft_layer(module: Any) -> bool:
    import torch

    return (type(module).__module__.split(".", 1)[0] == "peft"
            and isinstance(getattr(module, "base_layer", None), torch.nn.Module))


def _unwrap(module: Any) -> None:
    """Replace every peft layer under ``module`` by the layer it wraps, in place."""
    for name, child in list(module.named_children()):
        inner = child
        while _is_peft_layer(inner):
            inner = inner.base_layer
        if inner is not child:
            setattr(module, name, inner)  # nn.Module.__setattr__ re-registers the child
        _unwrap(inner)


def _check_load_report(ref: AdapterRef, key: str, report: Any) -> None:
    """Refuse an adapter whose tensors do not match what its config injected: missing
    ones would stay at their random start, unexpected ones would be dropped, both
    silently. Only this adapter's names count (transformers also lists the other loaded
    adapters' tensors as missing). Older transformers return no report: nothing to check.
    """
    if report is None:
        return

    def own(names: Any) -> list[str]:
        # Shown without the cache's internal adapter name.
        return sorted(str(n).replace(f".{key}.", ".") for n in (names or ())
                      if f".{key}." in str(n))

    missing = own(getattr(report, "missing_keys", ()))
    unexpected = own(getattr(report, "unexpected_keys", ()))
    mismatched = sorted(str(k) for k in (getattr(report, "mismatched_keys", ()) or ()))
    errors = [str(e) for e in (getattr(report, "error_msgs", ()) or ())]
    if mismatched:
        raise AdapterError(
            f"{Path(ref.path) / ADAPTER_WEIGHTS} holds LoRA weights of the wrong shape for "
            f"this base model ({_some(mismatched)}): it was trained on another base model. "
            "Fix: retrain the project on its base model, or roll back"
        )
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"no weights for {_some(missing)}")
        if unexpected:
            parts.append(f"weights for modules the config does not target ({_some(unexpected)})")
        raise AdapterError(
            f"{Path(ref.path) / ADAPTER_WEIGHTS} does not match {ADAPTER_CONFIG}: "
            + "; ".join(parts) + ". Fix: retrain the project (the two files belong together)"
        )
    if errors:
        raise AdapterError(f"adapter {ref.path} did not load cleanly: {_some(errors)}")


def _load_error(ref: AdapterRef, exc: BaseException) -> AdapterError:
    """An error raised inside transformers/peft, as an AdapterError with its reason."""
    text = f"{type(exc).__name__}: {exc}"
    if "target modules" in str(exc).lower() and "not found" in str(exc).lower():
        return AdapterError(
            f"{Path(ref.path) / ADAPTER_CONFIG} names target modules this base model does "
            f"not have ({exc}): the adapter was made for another base model. Fix: retrain "
            "the project on its base model, or roll back"
        )
    if any(word in str(exc).lower() for word in ("size mismatch", "mismatched_sizes")):
        # transformers points at a report it logged; the sentence means nothing here.
        text = text.replace(" For details look at the above report!", "")
        return AdapterError(
            f"{Path(ref.path) / ADAPTER_WEIGHTS} holds LoRA weights of the wrong shape for "
            f"this base model ({text}): it was trained on another base model. Fix: retrain "
            "the project on its base model, or roll back"
        )
    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    return AdapterError(
        f"adapter {ref.path} cannot be loaded into this base model with the installed "
        f"libraries ({versions}): {text}"
    )
