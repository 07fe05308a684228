"""LoRA fine-tuning of a base model on a snapshot: SFT, then optional DPO.

One call, :func:`train_adapter`, does a whole job and is safe to call again with the
same ``output_dir`` after a kill: it resumes from the last complete checkpoint, skips
finished phases, and returns the stored result of a finished job.

Layout of ``output_dir``::

    run.json            snapshot hash + config + base model: what the checkpoints belong to
    sft/checkpoint-N    complete SFT checkpoints (staged in sft/.staging, then renamed)
    sft-adapter/        the SFT adapter, when DPO follows
    dpo/checkpoint-N    complete DPO checkpoints
    adapter/            the final adapter (safetensors), renamed into place when complete
    result.json         the TrainResult of a finished job
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from generation.prompts import neutralise_control_tokens
from generation.training.adapters import adapter_sha256, fsync_dir, publish_dir
from generation.training.checkpoints import (
    TRAINING_ARGS_PICKLE,
    last_complete_checkpoint,
    make_atomic_trainer_class,
    remove_incomplete,
)
from generation.training.config import ProgressEvent, TrainConfig, TrainProgress, TrainResult
from generation.training.data import SFTExample
from generation.training.errors import (
    CheckpointMismatch,
    NotEnoughExamples,
    TrainingInProgress,
)
from generation.training.evaluate import completion_token_ids
from generation.training.snapshot import Snapshot

ProgressFn = Callable[[TrainProgress], None]
CancelFn = Callable[[], bool]

RUN_FILE = "run.json"
RESULT_FILE = "result.json"


def use_bf16(config: TrainConfig) -> bool:
    """bf16 only where it is fast: a CUDA device with bf16 support. CPUs without bf16
    units run bf16 training many times slower than fp32."""
    if config.precision == "fp32":
        return False
    import torch

    supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if config.precision == "bf16" and not supported:
        raise ValueError("precision='bf16' needs a CUDA device with bf16 support.")
    return supported


def _load_base(base_model_dir: Path, bf16: bool) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        base_model_dir,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        use_safetensors=True,
    )
    # No KV cache while training: it only costs memory. The Trainer moves the model to
    # the accelerator itself.
    model.config.use_cache = False
    return model, tokenizer


def _records(examples: Any, tokenizer: Any) -> list[dict[str, Any]]:
    """TRL's conversational records, with chat-template markers in the texts defused
    (TRL applies the chat template itself)."""

    def defuse(turns: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**t, "content": neutralise_control_tokens(t["content"], tokenizer)}
                for t in turns]

    return [{key: defuse(turns) for key, turns in ex.to_record().items()} for ex in examples]


def tokenize_sft(
    tokenizer: Any, examples: Sequence[SFTExample], max_length: int
) -> list[dict[str, list[int]]]:
    """Rows of ``input_ids`` + ``completion_mask`` (1 on completion tokens), truncated
    to ``max_length``; examples whose completion is cut off entirely are dropped."""
    rows = []
    for example in examples:
        ids, n_prompt = completion_token_ids(tokenizer, example, max_length)
        if n_prompt < len(ids):
            rows.append(
                {"input_ids": ids, "completion_mask": [0] * n_prompt + [1] * (len(ids) - n_prompt)}
            )
    return rows


class _Reporter:
    """Builds TrainProgress events for one phase and asks whether to cancel."""

    def __init__(self, phase: str, progress: ProgressFn | None, should_cancel: CancelFn | None):
        self.phase = phase
        self.progress = progress
        self.should_cancel = should_cancel
        self.cancelled = False
        self.start = time.monotonic()
        self.first_step: int | None = None

    def emit(self, event: ProgressEvent, state: Any, message: str, **losses: float | None) -> None:
        if self.progress is None:
            return
        step, total = state.global_step, state.max_steps
        elapsed = time.monotonic() - self.start
        eta: float | None = None
        if self.first_step is not None and step > self.first_step:
            # Speed measured over this process's steps only: resumed steps took no time here.
            eta = max(0.0, elapsed / (step - self.first_step) * (total - step))
        self.progress(TrainProgress(
            event=event, phase=self.phase, step=step, total_steps=total,
            epoch=round(state.epoch or 0.0, 4), elapsed_s=round(elapsed, 3),
            eta_s=None if eta is None else round(eta, 1), message=message, **losses,
        ))


def _make_callback(reporter: _Reporter) -> Any:
    from transformers import TrainerCallback

    class StudioProgressCallback(TrainerCallback):  # type: ignore[misc]
        """Reports progress and turns a cancel request into a clean stop."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            reporter.first_step = state.global_step
            reporter.start = time.monotonic()
            if state.global_step:
                reporter.emit(ProgressEvent.RESUMED, state,
                              f"{reporter.phase} resumed at step {state.global_step}")
            else:
                reporter.emit(ProgressEvent.STARTED, state, f"{reporter.phase} started")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if reporter.should_cancel is not None and reporter.should_cancel():
                reporter.cancelled = True
                control.should_training_stop = True
                # A cancelled job publishes nothing, so skip the pending eval/save.
                control.should_save = False
                control.should_evaluate = False
                reporter.emit(ProgressEvent.CANCELLED, state, "cancelled")
            # Otherwise the report comes from on_log, which runs right after with the
            # step's loss (logging_steps=1).

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            logs = logs or {}
            shown = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in sorted(logs.items())
                if k in {"loss", "eval_loss", "learning_rate", "grad_norm", "train_loss"}
            )
            if not shown:
                return
            message = f"{reporter.phase} step {state.global_step}/{state.max_steps}: {shown}"
            rate = logs.get("learning_rate")
            rate = float(rate) if isinstance(rate, (int, float)) else None
            if "eval_loss" in logs:
                reporter.emit(ProgressEvent.EVAL, state, message,
                              eval_loss=float(logs["eval_loss"]), learning_rate=rate)
            elif "loss" in logs:
                reporter.emit(ProgressEvent.STEP, state, message,
                              train_loss=float(logs["loss"]), learning_rate=rate)
            else:
                reporter.emit(ProgressEvent.LOG, state, message)

    return StudioProgressCallback()


def _common_args(config: TrainConfig, run_dir: Path, has_eval: bool, bf16: bool) -> dict[str, Any]:
    return {
        "output_dir": str(run_dir),
        "per_device_train_batch_size": config.batch_size,
        "per_device_eval_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "max_steps": config.max_steps,
        "warmup_steps": config.warmup_ratio,
        "weight_decay": config.weight_decay,
        "lr_scheduler_type": "cosine",
        "logging_steps": 1,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": config.eval_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": None,  # rotation happens after the atomic rename
        "load_best_model_at_end": has_eval,
        "metric_for_best_model": "eval_loss" if has_eval else None,
        "greater_is_better": False if has_eval else None,
        "bf16": bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "fp16": False,
        "report_to": [],
        "disable_tqdm": True,
        "seed": config.seed,
        "data_seed": config.seed,
        "dataloader_num_workers": 0,
        "max_length": config.max_length,
    }


def _prepare_trainer(
    trainer: Any, config: TrainConfig, reporter: _Reporter, has_eval: bool
) -> None:
    from transformers import EarlyStoppingCallback, PrinterCallback

    trainer.keep_checkpoints = config.keep_checkpoints
    trainer.remove_callback(PrinterCallback)  # progress goes through the callback, not stdout
    trainer.add_callback(_make_callback(reporter))
    if has_eval and config.early_stopping_patience > 0:
        trainer.add_callback(
            EarlyStoppingCallback(
                early_stopping_patience=config.early_stopping_patience,
                early_stopping_threshold=config.early_stopping_threshold,
            )
        )


def _compact_completion_loss(
    model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None
) -> Any:
    """Causal-LM loss that projects only completion positions through the LM head.

    TRL's fused LM head scores only the labelled positions on Triton (CUDA) devices;
    elsewhere it scores every position, and adds entropy/accuracy passes. On CPU the
    LM head (vocab x hidden) is a large share of a small model's compute, so skipping
    prompt and pad positions there is a real saving. Same value as the model's own
    loss: mean NLL over the labelled next tokens (or their sum / num_items_in_batch
    under gradient accumulation, as the Trainer expects).
    """
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    labels = inputs["labels"]
    hidden = base.model(
        input_ids=inputs["input_ids"],
        attention_mask=inputs.get("attention_mask"),
        position_ids=inputs.get("position_ids"),
    ).last_hidden_state
    targets = labels[:, 1:]
    mask = targets != -100
    logits = base.lm_head(hidden[:, :-1][mask]).float()
    total = torch.nn.functional.cross_entropy(logits, targets[mask], reduction="sum")
    if num_items_in_batch is None:
        return total / mask.sum().clamp(min=1)
    return total / num_items_in_batch


def _use_compact_loss() -> bool:
    import torch

    return not torch.cuda.is_available()


def build_sft_trainer(
    base_model_dir: str | Path,
    train: list[SFTExample] | tuple[SFTExample, ...],
    evals: list[SFTExample] | tuple[SFTExample, ...],
    run_dir: str | Path,
    config: TrainConfig,
    *,
    reporter: _Reporter | None = None,
) -> Any:
    """Build the (atomic-checkpoint) TRL SFTTrainer for a LoRA SFT run.

    Loss is on the completion only: examples are conversational prompt-completion
    records, for which TRL masks the prompt tokens' labels with -100.
    Public so tests and the benchmark inspect exactly what training uses.
    """
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    bf16 = use_bf16(config)
    model, tokenizer = _load_base(Path(base_model_dir), bf16)
    has_eval = bool(evals)
    common = _common_args(config, Path(run_dir), has_eval, bf16)
    # Examples are tokenised here, truncated to max_length, with the same function the
    # evaluation uses: training and eval score exactly the same completion tokens, and
    # TRL (which skips its own tokenisation for tokenised rows) need not enforce
    # max_length, which it refuses to do in padding-free mode.
    common["max_length"] = None
    args = SFTConfig(
        **common,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        completion_only_loss=True,
        padding_free=config.padding_free,
        packing=False,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
    )
    peft_config = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=(
            config.target_modules
            if isinstance(config.target_modules, str)
            else list(config.target_modules)
        ),
        task_type="CAUSAL_LM",
    )
    cls = make_atomic_trainer_class(SFTTrainer)
    if _use_compact_loss():

        class CompactLossSFTTrainer(cls):  # type: ignore[valid-type, misc]
            def compute_loss(
                self,
                model: Any,
                inputs: dict[str, Any],
                return_outputs: bool = False,
                num_items_in_batch: Any = None,
            ) -> Any:
                loss = _compact_completion_loss(model, inputs, num_items_in_batch)
                return (loss, None) if return_outputs else loss

        cls = CompactLossSFTTrainer
    trainer = cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(tokenize_sft(tokenizer, train, config.max_length)),
        eval_dataset=(
            Dataset.from_list(tokenize_sft(tokenizer, evals, config.max_length))
            if has_eval
            else None
        ),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    _prepare_trainer(trainer, config, reporter or _Reporter("sft", None, None), has_eval)
    return trainer


def _build_dpo_trainer(
    base_model_dir: Path,
    sft_adapter: Path,
    snapshot: Snapshot,
    run_dir: Path,
    config: TrainConfig,
    reporter: _Reporter,
) -> Any:
    from datasets import Dataset
    from peft import PeftModel
    from trl import DPOConfig, DPOTrainer

    bf16 = use_bf16(config)
    base, tokenizer = _load_base(base_model_dir, bf16)
    # Train the SFT adapter further; TRL copies it into a frozen "ref" adapter, so the
    # DPO reference is the SFT model (not the bare base), as DPO expects.
    model = PeftModel.from_pretrained(base, sft_adapter, is_trainable=True)
    has_eval = bool(snapshot.preference_eval)
    args = DPOConfig(
        **_common_args(config, run_dir, has_eval, bf16),
        num_train_epochs=config.dpo_epochs,
        learning_rate=config.dpo_learning_rate,
        beta=config.dpo_beta,
    )
    cls = make_atomic_trainer_class(DPOTrainer)
    trainer = cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_records(snapshot.preference_train, tokenizer)),
        eval_dataset=Dataset.from_list(_records(snapshot.preference_eval, tokenizer)) if has_eval else None,
        processing_class=tokenizer,
    )
    _prepare_trainer(trainer, config, reporter, has_eval)
    return trainer


def _save_adapter(model: Any, final: Path) -> Path:
    """Save only the trained ("default") adapter, as safetensors, atomically."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True, selected_adapters=["default"])
        for extra in ("README.md", TRAINING_ARGS_PICKLE):
            (tmp / extra).unlink(missing_ok=True)
        return publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _result_to_json(result: TrainResult) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data["adapter_dir"] = None if result.adapter_dir is None else str(result.adapter_dir)
    data["phases"] = list(result.phases)
    return data


def _result_from_json(data: dict[str, Any]) -> TrainResult:
    data = dict(data)
    data["adapter_dir"] = None if data["adapter_dir"] is None else Path(data["adapter_dir"])
    data["phases"] = tuple(data.get("phases", ()))
    return TrainResult(**data)


def _check_run(output_dir: Path, run: dict[str, Any]) -> None:
    path = output_dir / RUN_FILE
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored != run:
            raise CheckpointMismatch(
                f"{output_dir} holds a run of snapshot {stored.get('snapshot', '?')[:12]} with other "
                "settings; use a fresh output folder for a different job."
            )
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(path, run)


def _run_phase(
    trainer: Any, run_dir: Path, reporter: _Reporter
) -> tuple[dict[str, float], int, bool, int | None]:
    """Train (resuming if a complete checkpoint exists). Returns metrics, steps,
    stopped_early, resumed_from_step."""
    checkpoint = last_complete_checkpoint(run_dir)
    resumed_from = int(checkpoint.name.split("-")[1]) if checkpoint else None
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    state = trainer.state
    metrics: dict[str, float] = {"train_loss": float(output.training_loss)}
    eval_losses = [h["eval_loss"] for h in state.log_history if "eval_loss" in h]
    if eval_losses:
        metrics["eval_loss"] = float(
            state.best_metric if state.best_metric is not None else eval_losses[-1]
        )
        metrics["last_eval_loss"] = float(eval_losses[-1])
    stopped_early = (
        not reporter.cancelled and state.max_steps > 0 and state.global_step < state.max_steps
    )
    return metrics, int(state.global_step), stopped_early, resumed_from


@contextlib.contextmanager
def _job_lock(output_dir: Path) -> Iterator[None]:
    # One trainer per output folder: a duplicate delivery of the job must not write
    # checkpoints next to a live run. flock is released by the kernel when the holder
    # dies, so a killed run never leaves a stale lock.
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TrainingInProgress(f"another process is training in {output_dir}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def train_adapter(
    base_model_dir: str | Path,
    snapshot: Snapshot,
    output_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on ``snapshot`` and write it to ``output_dir/adapter``.

    LoRA SFT on the snapshot's SFT examples (loss on the completion only, early
    stopping on eval loss, best checkpoint kept), then, when ``config.dpo`` is set and
    there are at least ``config.dpo_min_examples`` preference pairs, DPO on top of the
    SFT adapter. ``progress`` is called with a :class:`TrainProgress` on every step,
    log and evaluation; ``should_cancel`` is polled every step and a True answer stops
    the run cleanly (no adapter published, ``cancelled=True``).

    Calling it again with the same arguments after a kill resumes from the last
    complete checkpoint; after success it returns the stored result without training.
    Raises :class:`NotEnoughExamples` when the training split is too small,
    :class:`CheckpointMismatch` when ``output_dir`` belongs to another job and
    :class:`TrainingInProgress` when another process is training in ``output_dir``.
    """
    base_model_dir = Path(base_model_dir)
    output_dir = Path(output_dir)
    if config is None:
        config = TrainConfig.for_dataset(
            len(snapshot.sft_train), n_preference=len(snapshot.preference_train)
        )
    if len(snapshot.sft_train) < config.min_examples:
        raise NotEnoughExamples(len(snapshot.sft_train), config.min_examples)

    with _job_lock(output_dir):
        return _train_locked(base_model_dir, snapshot, output_dir, config, progress, should_cancel)


def _train_locked(
    base_model_dir: Path,
    snapshot: Snapshot,
    output_dir: Path,
    config: TrainConfig,
    progress: ProgressFn | None,
    should_cancel: CancelFn | None,
) -> TrainResult:
    run = {
        "snapshot": snapshot.content_hash,
        "config": config.to_dict(),
        "base_model": str(base_model_dir.resolve()),
    }
    _check_run(output_dir, run)
    if (output_dir / RESULT_FILE).is_file():
        return _result_from_json(json.loads((output_dir / RESULT_FILE).read_text(encoding="utf-8")))

    do_dpo = config.dpo and len(snapshot.preference_train) >= config.dpo_min_examples
    final = output_dir / "adapter"
    sft_adapter = output_dir / "sft-adapter" if do_dpo else final
    sft_result_file = output_dir / "sft-result.json"
    metrics: dict[str, float] = {}
    total_steps = 0
    stopped_early = False
    resumed_from: int | None = None
    phases: list[str] = []

    def cancelled_result() -> TrainResult:
        return TrainResult(
            adapter_dir=None,
            adapter_sha256=None,
            metrics=metrics,
            steps=total_steps,
            stopped_early=False,
            cancelled=True,
            resumed_from_step=resumed_from,
            phases=tuple(phases),
        )

    if sft_result_file.is_file() and (sft_adapter / "adapter_model.safetensors").is_file():
        sft_summary = json.loads(sft_result_file.read_text(encoding="utf-8"))
    else:
        run_dir = output_dir / "sft"
        remove_incomplete(run_dir)
        reporter = _Reporter("sft", progress, should_cancel)
        trainer = build_sft_trainer(
            base_model_dir,
            snapshot.sft_train,
            snapshot.sft_eval,
            run_dir,
            config,
            reporter=reporter,
        )
        sft_metrics, steps, early, resumed_from = _run_phase(trainer, run_dir, reporter)
        if reporter.cancelled:
            metrics.update({f"sft_{k}": v for k, v in sft_metrics.items()})
            total_steps = steps
            phases.append("sft")
            return cancelled_result()
        _save_adapter(trainer.model, sft_adapter)
        sft_summary = {
            "metrics": sft_metrics,
            "steps": steps,
            "stopped_early": early,
            "resumed_from_step": resumed_from,
        }
        _write_json_atomic(sft_result_file, sft_summary)
        del trainer
    metrics.update({f"sft_{k}": v for k, v in sft_summary["metrics"].items()})
    total_steps += sft_summary["steps"]
    stopped_early = sft_summary["stopped_early"]
    resumed_from = sft_summary["resumed_from_step"]
    phases.append("sft")

    if do_dpo:
        if should_cancel is not None and should_cancel():
            return cancelled_result()
        run_dir = output_dir / "dpo"
        remove_incomplete(run_dir)
        reporter = _Reporter("dpo", progress, should_cancel)
        trainer = _build_dpo_trainer(
            base_model_dir, sft_adapter, snapshot, run_dir, config, reporter
        )
        dpo_metrics, steps, early, _ = _run_phase(trainer, run_dir, reporter)
        metrics.update({f"dpo_{k}": v for k, v in dpo_metrics.items()})
        total_steps += steps
        phases.append("dpo")
        if reporter.cancelled:
            return cancelled_result()
        stopped_early = stopped_early or early
        _save_adapter(trainer.model, final)

    result = TrainResult(
        adapter_dir=final,
        adapter_sha256=adapter_sha256(final),
        metrics={k: v for k, v in metrics.items() if math.isfinite(v)},
        steps=total_steps,
        stopped_early=stopped_early,
        cancelled=False,
        resumed_from_step=resumed_from,
        phases=tuple(phases),
    )
    _write_json_atomic(output_dir / RESULT_FILE, _result_to_json(result))
    return result
