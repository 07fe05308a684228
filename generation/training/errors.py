"""Typed errors of the training side of ``generation``.

Each one is something the caller can show to a person (not enough data, a tampered
snapshot) rather than a stack trace, so the Celery task can map it to a job error.
"""

from __future__ import annotations

from generation.errors import GenerationError


class TrainingError(GenerationError):
    """Base class of every error raised on purpose by ``generation.training``."""


class InvalidExample(TrainingError, ValueError):
    """A training example is malformed (no user turn, empty completion, unknown role)."""


class NotEnoughExamples(TrainingError, ValueError):
    """The snapshot has fewer training examples than training needs."""

    def __init__(self, have: int, need: int, *, kind: str = "approved (SFT)") -> None:
        self.have = have
        self.need = need
        self.kind = kind
        super().__init__(
            f"Training needs at least {need} {kind} examples in the training split; "
            f"this snapshot has {have}. Approve or edit {need - have} more draft(s) and retry."
        )


class SnapshotIntegrityError(TrainingError):
    """A snapshot folder on disk does not match its manifest (edited, truncated or
    partly written files)."""


class CheckpointMismatch(TrainingError):
    """The output folder holds checkpoints of a different snapshot or configuration,
    so resuming from them would silently mix two training runs."""


class TrainingInProgress(TrainingError):
    """Another process holds the output folder's lock (a duplicate delivery of the
    same job while the first one is still running)."""
