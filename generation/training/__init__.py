"""Training side of ``generation``: examples, snapshots, LoRA SFT/DPO, evaluation.

Importing this package does not import torch: the dataclasses, scrubbing and snapshot
code are plain Python, and the functions that need torch import it when called, so
the web process can use the data side without loading a deep-learning stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generation.training.adapters import adapter_sha256, check_safe_adapter
from generation.training.config import (
    MIN_PREFERENCE_EXAMPLES,
    MIN_SFT_EXAMPLES,
    EvalMetrics,
    ProgressEvent,
    TrainConfig,
    TrainProgress,
    TrainResult,
)
from generation.training.data import (
    PreferenceExample,
    SFTExample,
    plain_turns,
    scrub_messages,
    scrub_personal_data,
    to_jsonl,
)
from generation.training.errors import (
    CheckpointMismatch,
    InvalidExample,
    NotEnoughExamples,
    SnapshotIntegrityError,
    TrainingError,
    TrainingInProgress,
)
from generation.training.snapshot import Snapshot, build_snapshot, load_snapshot

if TYPE_CHECKING:
    from generation.training.evaluate import compare, evaluate_adapter
    from generation.training.trainer import train_adapter

# Modules whose import is cheap but whose functions pull in torch when called; they
# are imported on first attribute access so `import generation.training` stays light.
_LAZY = {
    "train_adapter": "generation.training.trainer",
    "evaluate_adapter": "generation.training.evaluate",
    "compare": "generation.training.evaluate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'generation.training' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "MIN_PREFERENCE_EXAMPLES",
    "MIN_SFT_EXAMPLES",
    "CheckpointMismatch",
    "EvalMetrics",
    "InvalidExample",
    "NotEnoughExamples",
    "PreferenceExample",
    "ProgressEvent",
    "SFTExample",
    "Snapshot",
    "SnapshotIntegrityError",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingError",
    "TrainingInProgress",
    "adapter_sha256",
    "build_snapshot",
    "check_safe_adapter",
    "compare",
    "evaluate_adapter",
    "load_snapshot",
    "plain_turns",
    "scrub_messages",
    "scrub_personal_data",
    "to_jsonl",
    "train_adapter",
]
