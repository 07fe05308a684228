"""Plain dataclasses going in and out of training: config, progress, results, metrics.

No torch here: the web process builds a :class:`TrainConfig` to show and store the
hyperparameters of a job before any worker touches a model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

MIN_SFT_EXAMPLES = 8
MIN_PREFERENCE_EXAMPLES = 4
# One job's step cap, so a huge dataset cannot hold a training worker for days.
MAX_STEPS = 3000


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training job (LoRA SFT, then optional DPO).

    Build it with :meth:`for_dataset` and override single fields with
    ``dataclasses.replace``; :meth:`to_dict` / :meth:`from_dict` round-trip it through
    the job's JSON column.
    """

    epochs: float = 3.0
    learning_rate: float = 2e-4
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    # "all-linear" adapts every linear layer but the LM head; it learns a style faster
    # than attention-only LoRA at the same rank, for little extra memory.
    target_modules: str | tuple[str, ...] = "all-linear"
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_steps: int = -1  # > 0 caps the run regardless of epochs
    eval_steps: int = 10
    save_steps: int = 10
    early_stopping_patience: int = 3
    early_stopping_threshold: float = 0.0
    max_length: int = 1024
    # Batches of similar-length examples (shuffled in groups), so little compute goes
    # into pad tokens when short ads and long articles share a dataset.
    group_by_length: bool = True
    # Flatten each batch into one unpadded sequence. Off by default: measured on CPU
    # (SDPA), the block-diagonal mask this needs made steps ~1.5x slower than padding;
    # it pays off with FlashAttention on GPU.
    padding_free: bool = False
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0
    min_examples: int = MIN_SFT_EXAMPLES
    # DPO on preference pairs after SFT; skipped when there are fewer pairs than this.
    dpo: bool = True
    dpo_min_examples: int = MIN_PREFERENCE_EXAMPLES
    dpo_beta: float = 0.1
    dpo_epochs: float = 1.0
    dpo_learning_rate: float = 5e-5
    # Checkpoints kept on disk (the best one by eval loss is kept besides these).
    keep_checkpoints: int = 2
    # TRL turns activation checkpointing on by default; it trades ~30 % more compute
    # for memory, which a small model never needs. Turn it on for large bases on GPU.
    gradient_checkpointing: bool = False
    # "auto": bf16 only on a CUDA device that supports it; fp32 everywhere else.
    precision: str = "auto"

    @classmethod
    def for_dataset(
        cls, n_examples: int, *, n_preference: int = 0, **overrides: Any
    ) -> TrainConfig:
        """Sensible defaults for a training split of ``n_examples`` SFT examples.

        Small sets (under 100) get two epochs at a high rate and a small rank: few
        examples cannot fill a big adapter without memorising them, and a retrain on 50
        approvals of the bundled model then takes minutes on two CPU cores (README,
        "Retrains"); larger sets get more steps at a lower rate, a larger rank and
        batch, and a step cap so one job stays bounded. Eval and checkpoints happen
        about ten times per run, so early stopping has points to compare.
        """
        if n_examples < 100:
            # Dozens of approvals: a house style (openings, sign-offs, wording) is learnt
            # in a dozen steps at a high rate (the bundled model's held-out loss halves
            # in 8 steps at 1e-3: tests/generation/test_training_learns.py); more epochs
            # only cost time (a retrain on 50 approvals must fit in minutes on a CPU).
            epochs, lr, rank, batch = 2.0, 1e-3, 8, 8
        elif n_examples < 500:
            epochs, lr, rank, batch = 3.0, 2e-4, 16, 8
        elif n_examples < 5000:
            epochs, lr, rank, batch = 2.0, 2e-4, 16, 8
        else:
            epochs, lr, rank, batch = 1.0, 1e-4, 32, 16
        values: dict[str, Any] = {
            "epochs": epochs,
            "learning_rate": lr,
            "lora_rank": rank,
            "lora_alpha": rank * 2,
            "batch_size": batch,
            "dpo": n_preference >= MIN_PREFERENCE_EXAMPLES,
        }
        values.update(overrides)
        # Step-based settings follow the (possibly overridden) epochs and batch size.
        per_step = values["batch_size"] * values.get("gradient_accumulation_steps", 1)
        planned = math.ceil(max(n_examples, 1) / per_step) * values["epochs"]
        values.setdefault("max_steps", MAX_STEPS if planned > MAX_STEPS else -1)
        if values["max_steps"] > 0:
            planned = min(planned, values["max_steps"])
        values.setdefault("eval_steps", max(2, int(planned // 10)))
        values.setdefault("save_steps", values["eval_steps"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        data = dataclasses.asdict(self)
        if isinstance(self.target_modules, tuple):
            data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys take defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"Unknown training settings: {sorted(unknown)}")
        values = dict(data)
        if isinstance(values.get("target_modules"), list):
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)


class ProgressEvent(StrEnum):
    """What a progress report announces; the receiver acts on this, never on the text."""

    STARTED = "started"
    RESUMED = "resumed"  # from a checkpoint: later points of the dead run are stale
    STEP = "step"  # an optimizer step with its training loss
    EVAL = "eval"  # an evaluation with its eval loss
    LOG = "log"  # anything else the trainer logged (e.g. the run's summary)
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TrainProgress:
    """One progress report. ``phase`` is "sft" or "dpo"; steps count within the phase.

    Sent on start/resume, every optimizer step, every evaluation and a cancel. The
    losses are those measured by this event (``train_loss`` on STEP, ``eval_loss`` on
    EVAL), else None; ``message`` is a human-readable log line for the job page.
    """

    event: ProgressEvent
    phase: str
    step: int
    total_steps: int
    epoch: float
    elapsed_s: float
    eta_s: float | None
    train_loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    message: str = ""


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_adapter`.

    ``adapter_dir`` and ``adapter_sha256`` are ``None`` when the run was cancelled.
    ``metrics`` holds the final train/eval losses (``sft_eval_loss``,
    ``dpo_eval_loss``... whatever ran). ``steps`` is the total optimizer steps over all
    phases; ``resumed_from_step`` is the SFT checkpoint step this run restarted from.
    """

    adapter_dir: Path | None
    adapter_sha256: str | None
    metrics: dict[str, float]
    steps: int
    stopped_early: bool
    cancelled: bool
    resumed_from_step: int | None = None
    phases: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class EvalMetrics:
    """Completion-only loss on held-out examples: mean negative log-likelihood per
    completion token, its perplexity, and how many tokens it was measured on."""

    loss: float
    perplexity: float
    n_tokens: int
    n_examples: int = 0
