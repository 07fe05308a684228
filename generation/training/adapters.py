"""Adapter folders on disk: hashing, pickle refusal, atomic publication.

``adapter_sha256`` is meant to equal the hash the inference side checks before it
loads an adapter; keep the two in step (one definition once ``generation.models``
exports it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from generation.errors import UnsafeAdapterError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Extensions whose loaders unpickle: loading one runs whatever code it carries.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})


def adapter_sha256(adapter_dir: str | Path) -> str:
    """sha256 identifying an adapter: over the config and the safetensors weights.

    Both files count because the config (rank, alpha, target modules) changes what the
    same weights do. The digest is of ``name\\0<sha256 of file>\\n`` lines in name order.
    """
    adapter_dir = Path(adapter_dir)
    outer = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        inner = hashlib.sha256()
        with open(adapter_dir / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                inner.update(chunk)
        outer.update(f"{name}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def pickle_files(folder: str | Path) -> list[Path]:
    """Every file under ``folder`` whose format is pickle-based."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)


def check_safe_adapter(adapter_dir: str | Path) -> Path:
    """Refuse an adapter folder holding pickle files or lacking safetensors weights."""
    adapter_dir = Path(adapter_dir)
    bad = pickle_files(adapter_dir)
    if bad:
        raise UnsafeAdapterError(
            f"{adapter_dir} holds pickle-based files ({', '.join(p.name for p in bad)}); refused."
        )
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise UnsafeAdapterError(f"{adapter_dir} has no {ADAPTER_WEIGHTS}.")
    return adapter_dir


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk, so a rename that follows
    publishes data that survives a power cut, not just a process kill."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def fsync_dir(folder: Path) -> None:
    """fsync a directory entry (makes renames inside it durable)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_dir(tmp: Path, final: Path) -> Path:
    """Atomically move the complete folder ``tmp`` to ``final`` (replacing an old one)."""
    fsync_tree(tmp)
    if final.exists():
        # rename() cannot replace a non-empty folder: move the old one aside first, so
        # at every instant either the old or the new complete folder is at ``final``...
        # except between the two renames, which readers treat as "not there yet".
        old = final.with_name(final.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    fsync_dir(final.parent)
    return final
