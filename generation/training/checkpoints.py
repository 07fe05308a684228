"""Checkpoints that survive a kill at any instant.

The Hugging Face Trainer writes ``checkpoint-N`` in place, file by file: a kill in the
middle leaves a folder that looks like a checkpoint but is not one. Here the Trainer
writes into ``.staging/checkpoint-N``; only when every file is there (and flushed) is
a completion marker written and the folder renamed to ``checkpoint-N``. A folder named
like a checkpoint without the marker is never resumed from.

The optimizer, scheduler and RNG states are stored as safetensors + JSON instead of
``torch.save`` pickles, so nothing this package writes is a pickle and nothing it
reads back can run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

from generation.training.adapters import fsync_dir, fsync_tree

STAGING = ".staging"
COMPLETE_MARKER = "checkpoint-complete.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_META = "optimizer.json"
SCHEDULER_META = "scheduler.json"
RNG_TENSORS = "rng_state.safetensors"
RNG_META = "rng_state.json"
# Written by Trainer.save_model with torch.save; never read back on resume.
TRAINING_ARGS_PICKLE = "training_args.bin"


def complete_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint in ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    found = []
    if run_dir.is_dir():
        for child in run_dir.iterdir():
            match = _CHECKPOINT_RE.match(child.name)
            if match and child.is_dir() and (child / COMPLETE_MARKER).is_file():
                found.append((int(match.group(1)), child))
    return sorted(found)


def last_complete_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest checkpoint whose completion marker exists, or ``None``."""
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def remove_incomplete(run_dir: str | Path) -> list[Path]:
    """Delete the staging area and any checkpoint-like folder without the marker.

    Called before a (re)start: such folders are leftovers of a kill (or were put there
    by hand) and would otherwise collide with the checkpoint of the same step.
    """
    run_dir = Path(run_dir)
    removed: list[Path] = []
    if not run_dir.is_dir():
        return removed
    for child in run_dir.iterdir():
        if child.name == STAGING or (
            _CHECKPOINT_RE.match(child.name) and not (child / COMPLETE_MARKER).is_file()
        ):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def publish_checkpoint(staged: Path, run_dir: Path, step: int) -> Path:
    """Mark the staged checkpoint complete and rename it into ``run_dir``."""
    fsync_tree(staged)
    marker = staged / COMPLETE_MARKER
    with open(marker, "w", encoding="utf-8") as fh:
        json.dump({"step": step, "files": sorted(p.name for p in staged.iterdir())}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    final = run_dir / staged.name
    if final.exists():
        # Only an incomplete leftover can be here (remove_incomplete ran at start) or
        # the same step re-saved: the new one is at least as complete.
        shutil.rmtree(final)
    os.replace(staged, final)
    fsync_dir(run_dir)
    return final


def rotate(run_dir: Path, keep: int, protect: Path | None) -> None:
    """Delete all but the ``keep`` newest complete checkpoints, never ``protect``
    (the best one by eval loss, which load-best-at-end reads)."""
    found = complete_checkpoints(run_dir)
    for _step, path in found[: max(0, len(found) - keep)]:
        if protect is not None and path.resolve() == protect.resolve():
            continue
        shutil.rmtree(path, ignore_errors=True)


# --- Pickle-free trainer state -------------------------------------------------------


def save_optimizer_state(optimizer: Any, scheduler: Any, folder: Path) -> None:
    """Save optimizer and scheduler state dicts as safetensors (tensors) and JSON (rest)."""
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, values in state["state"].items():
        for name, value in values.items():
            if hasattr(value, "detach"):
                tensors[f"{param_id}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    save_file(tensors, str(folder / OPTIMIZER_TENSORS))
    meta = {"param_groups": state["param_groups"], "scalars": scalars}
    (folder / OPTIMIZER_META).write_text(json.dumps(meta), encoding="utf-8")
    sched_state = {k: v for k, v in scheduler.state_dict().items() if _jsonable(v)}
    (folder / SCHEDULER_META).write_text(json.dumps(sched_state), encoding="utf-8")


def load_optimizer_state(optimizer: Any, scheduler: Any, folder: Path) -> bool:
    """Restore what :func:`save_optimizer_state` wrote; False if it is not there."""
    if not (folder / OPTIMIZER_TENSORS).is_file():
        return False
    from safetensors.torch import load_file

    tensors = load_file(str(folder / OPTIMIZER_TENSORS))
    meta = json.loads((folder / OPTIMIZER_META).read_text(encoding="utf-8"))
    per_param: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        param_id, name = key.split(".", 1)
        per_param.setdefault(int(param_id), {})[name] = tensor
    for param_id, values in meta["scalars"].items():
        per_param.setdefault(int(param_id), {}).update(values)
    for group in meta["param_groups"]:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    sched = json.loads((folder / SCHEDULER_META).read_text(encoding="utf-8"))
    current = scheduler.state_dict()
    current.update(sched)
    scheduler.load_state_dict(current)
    return True


def save_rng_state(folder: Path) -> None:
    """Save Python, NumPy, torch (and CUDA) RNG states without pickle."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    tensors = {
        "numpy_keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
        "cpu": torch.random.get_rng_state(),
    }
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.random.get_rng_state()
    save_file(tensors, str(folder / RNG_TENSORS))
    meta = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [np_name, int(np_pos), int(np_has_gauss), float(np_gauss)],
    }
    (folder / RNG_META).write_text(json.dumps(meta), encoding="utf-8")


def load_rng_state(folder: Path) -> None:
    """Restore what :func:`save_rng_state` wrote (no-op if absent)."""
    if not (folder / RNG_TENSORS).is_file():
        return
    import numpy as np
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(folder / RNG_TENSORS))
    meta = json.loads((folder / RNG_META).read_text(encoding="utf-8"))
    py_version, py_state, py_gauss = meta["python"]
    random.setstate((py_version, tuple(py_state), py_gauss))
    np_name, np_pos, np_has_gauss, np_gauss = meta["numpy"]
    np.random.set_state(
        (np_name, tensors["numpy_keys"].numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss)
    )
    torch.random.set_rng_state(tensors["cpu"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.random.set_rng_state(tensors["cuda"])


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def make_atomic_trainer_class(base: type) -> type:
    """A subclass of the Trainer class ``base`` (SFTTrainer, DPOTrainer...) whose
    checkpoints are staged, marked complete and renamed, and hold no pickles."""

    class AtomicCheckpointTrainer(base):  # type: ignore[valid-type, misc]
        keep_checkpoints: int = 2
        _staging_active = False

        def _get_output_dir(self, trial: Any) -> str:
            run_dir = super()._get_output_dir(trial)
            # While a checkpoint is being written, the Trainer's notion of the run
            # folder is the staging area; everything else sees the real one.
            return os.path.join(run_dir, STAGING) if self._staging_active else run_dir

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            run_dir = Path(super()._get_output_dir(trial))
            step = self.state.global_step
            self._staging_active = True
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._staging_active = False
            staged = run_dir / STAGING / f"checkpoint-{step}"
            (staged / TRAINING_ARGS_PICKLE).unlink(missing_ok=True)
            # The best checkpoint is tracked by step; point it at the published folder,
            # in memory and in the state saved inside the checkpoint (used on resume).
            best = self.state.best_global_step
            if best:
                self.state.best_model_checkpoint = str(run_dir / f"checkpoint-{best}")
                self.state.save_to_json(str(staged / "trainer_state.json"))
            publish_checkpoint(staged, run_dir, step)
            with contextlib.suppress(OSError):
                (run_dir / STAGING).rmdir()
            protect = Path(self.state.best_model_checkpoint) if best else None
            rotate(run_dir, self.keep_checkpoints, protect)

        def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
            save_optimizer_state(self.optimizer, self.lr_scheduler, Path(output_dir))

        def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
            if checkpoint is not None:
                load_optimizer_state(self.optimizer, self.lr_scheduler, Path(checkpoint))

        def _save_rng_state(self, output_dir: str) -> None:
            os.makedirs(output_dir, exist_ok=True)
            save_rng_state(Path(output_dir))

        def _load_rng_state(self, checkpoint: str | None) -> None:
            if checkpoint is not None:
                load_rng_state(Path(checkpoint))

        def _save_scaler(self, output_dir: str) -> None:
            # Grad scalers exist only for fp16 autocast, which this package never uses.
            return None

        def _load_scaler(self, checkpoint: str | None) -> None:
            return None

        def create_model_card(self, *args: Any, **kwargs: Any) -> None:
            # TRL writes a README model card into the output folder on every save;
            # it is noise for a private adapter and another non-atomic write.
            return None

    AtomicCheckpointTrainer.__name__ = f"Atomic{base.__name__}"
    return AtomicCheckpointTrainer
