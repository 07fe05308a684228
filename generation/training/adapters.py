"""Adapter folders on disk: hashing and safety checks (shared with the inference side
in :mod:`generation.adapters`, so a trained adapter's recorded sha256 is exactly what
the generation worker verifies), and atomic publication of folders.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from generation.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    PICKLE_SUFFIXES,
    adapter_sha256,
    check_adapter_dir,
)

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "PICKLE_SUFFIXES",
    "adapter_sha256",
    "check_safe_adapter",
    "fsync_dir",
    "fsync_tree",
    "publish_dir",
]


def check_safe_adapter(adapter_dir: str | Path) -> Path:
    """Refuse an adapter folder holding pickle files or lacking its config or
    safetensors weights (raises ``UnsafeAdapterError`` / ``AdapterError``)."""
    from generation.errors import AdapterError

    adapter_dir = Path(adapter_dir)
    check_adapter_dir(adapter_dir)
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise AdapterError(f"adapter folder {adapter_dir} has no {ADAPTER_WEIGHTS}")
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
