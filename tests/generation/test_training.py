"""Training on the tiny random model: labels, adapters, progress, cancel, kill and resume."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from generation.training import (
    CheckpointMismatch,
    EvalMetrics,
    NotEnoughExamples,
    PreferenceExample,
    ProgressEvent,
    SFTExample,
    Snapshot,
    TrainConfig,
    TrainProgress,
    adapter_sha256,
    build_snapshot,
)
from generation.training.adapters import PICKLE_SUFFIXES
from generation.training.checkpoints import COMPLETE_MARKER, complete_checkpoints

REPO = Path(__file__).resolve().parents[2]


def _sft(i: int) -> SFTExample:
    return SFTExample(
        [
            {"role": "system", "content": "Brand voice: warm and plain."},
            {"role": "user", "content": f"Write ad copy for coffee number {i}."},
        ],
        f"Coffee {i}: a bold headline, a short body and a clear call to action.",
    )


def _pref(i: int) -> PreferenceExample:
    return PreferenceExample(
        [{"role": "user", "content": f"Summarise the source text {i}."}],
        f"Summary {i}: three sentences, no invented facts.",
        f"summary {i} cheap guaranteed",
    )


def _config(**overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "max_steps": 4,
        "eval_steps": 2,
        "save_steps": 2,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "dpo": False,
        "early_stopping_patience": 0,
    }
    values.update(overrides)
    return TrainConfig.for_dataset(16, **values)


def _pickles(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES]


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return build_snapshot(
        [_sft(i) for i in range(20)], [_pref(i) for i in range(8)], eval_fraction=0.2, seed=0
    )


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, snapshot: Snapshot, tmp_path_factory: pytest.TempPathFactory):
    """One SFT + DPO run shared by the tests that only inspect its outcome."""
    from generation.training import train_adapter

    out = tmp_path_factory.mktemp("job")
    reports: list[TrainProgress] = []
    result = train_adapter(
        tiny_model_dir,
        snapshot,
        out,
        _config(dpo=True, dpo_min_examples=4),
        progress=reports.append,
    )
    return out, result, reports


def test_it_masks_the_prompt_out_of_the_loss(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from generation.training.trainer import build_sft_trainer

    examples = [_sft(1), _sft(22)]
    trainer = build_sft_trainer(tiny_model_dir, examples, [], tmp_path, _config(padding_free=True))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt_len = len(
        tokenizer.apply_chat_template(
            list(examples[0].messages), add_generation_prompt=True, return_dict=True
        )["input_ids"]
    )
    row = trainer.train_dataset[0]
    assert row["labels"][:prompt_len] == [-100] * prompt_len
    assert row["labels"][prompt_len:] == row["input_ids"][prompt_len:]
    scored = tokenizer.decode(row["input_ids"][prompt_len:])
    assert scored.startswith(examples[0].completion)
    assert "<|im_end|>" in scored  # the model learns to stop
    # What the model actually receives: the padding-free batch keeps the mask.
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    labels, ids = batch["labels"][0].tolist(), batch["input_ids"][0].tolist()
    assert "attention_mask" not in batch and len(ids) == sum(
        len(trainer.train_dataset[i]["input_ids"]) for i in range(2)
    )
    kept = tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
    assert "Write ad copy" not in kept and "Brand voice" not in kept
    assert examples[0].completion in kept and examples[1].completion in kept


def test_it_refuses_too_few_examples(tiny_model_dir: Path, tmp_path: Path) -> None:
    from generation.training import train_adapter

    small = build_snapshot([_sft(i) for i in range(4)], eval_fraction=0.25)
    with pytest.raises(NotEnoughExamples, match="at least 8") as info:
        train_adapter(tiny_model_dir, small, tmp_path / "job", _config())
    assert (info.value.have, info.value.need) == (small.counts["sft_train"], 8)
    assert not (tmp_path / "job").exists()


def test_it_trains_a_safetensors_adapter_with_a_matching_hash(trained, tiny_model_dir) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out, result, _ = trained
    assert not result.cancelled and result.phases == ("sft", "dpo")
    assert result.adapter_dir == out / "adapter"
    assert sorted(p.name for p in result.adapter_dir.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert result.adapter_sha256 == adapter_sha256(result.adapter_dir)
    # The inference side accepts it under the recorded hash.
    from generation.adapters import AdapterRef, read_verified_adapter

    read_verified_adapter(AdapterRef(str(result.adapter_dir), result.adapter_sha256))
    assert result.steps == 8  # 4 SFT + 4 DPO
    assert {"sft_train_loss", "sft_eval_loss", "dpo_eval_loss"} <= set(result.metrics)
    assert _pickles(out) == []  # no pickle anywhere: adapter, checkpoints, trainer state
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), result.adapter_dir
    )
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_it_reports_progress_step_by_step(trained) -> None:
    _, _, reports = trained
    sft = [r for r in reports if r.phase == "sft"]
    steps = [r.step for r in sft]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 4
    assert all(r.total_steps == 4 for r in sft)
    assert sft[0].event is ProgressEvent.STARTED
    # Typed events: one STEP with its training loss per optimizer step, EVALs with the
    # eval loss, and a loss only on the event that measured it.
    assert [r.step for r in sft if r.event is ProgressEvent.STEP] == [1, 2, 3, 4]
    assert all(r.train_loss is not None and r.eval_loss is None
               for r in sft if r.event is ProgressEvent.STEP)
    evals = [r for r in sft if r.event is ProgressEvent.EVAL]
    assert evals and all(r.eval_loss is not None and r.train_loss is None for r in evals)
    assert any(r.eta_s is not None for r in sft)
    assert any("step 4/4" in r.message for r in sft)
    assert [r.step for r in reports if r.phase == "dpo"][-1] == 4


def test_it_returns_the_stored_result_when_run_again(trained, tiny_model_dir, snapshot) -> None:
    from generation.training import train_adapter

    out, result, _ = trained
    again = train_adapter(tiny_model_dir, snapshot, out, _config(dpo=True, dpo_min_examples=4))
    assert again == result
    other = build_snapshot([_sft(i) for i in range(21)], eval_fraction=0.2)
    with pytest.raises(CheckpointMismatch):
        train_adapter(tiny_model_dir, other, out, _config())


def test_it_evaluates_and_gates(trained, tiny_model_dir, snapshot) -> None:
    from generation.errors import UnsafeAdapterError
    from generation.training import compare, evaluate_adapter

    _, result, _ = trained
    base = evaluate_adapter(tiny_model_dir, None, snapshot.sft_eval)
    tuned = evaluate_adapter(tiny_model_dir, result.adapter_dir, snapshot.sft_eval)
    assert base.n_tokens == tuned.n_tokens > 0 and base.n_examples == len(snapshot.sft_eval)
    assert tuned.loss < base.loss  # lr 1e-3 on a repetitive set moves even a random model
    assert compare(tuned, base, margin=0.0)
    assert not compare(base, tuned, margin=0.0)
    near = EvalMetrics(loss=base.loss * 0.995, perplexity=0.0, n_tokens=1)
    assert compare(near, base, margin=0.0) and not compare(near, base, margin=0.01)
    # A pickle in the adapter folder: refused before anything is loaded.
    (result.adapter_dir / "adapter_model.bin").write_bytes(b"not really a pickle")
    try:
        with pytest.raises(UnsafeAdapterError):
            evaluate_adapter(tiny_model_dir, result.adapter_dir, snapshot.sft_eval)
    finally:
        (result.adapter_dir / "adapter_model.bin").unlink()


def test_it_stops_cleanly_when_cancelled(tiny_model_dir, snapshot, tmp_path) -> None:
    from generation.training import train_adapter

    polls = []

    def should_cancel() -> bool:
        polls.append(1)
        return len(polls) >= 2

    result = train_adapter(
        tiny_model_dir,
        snapshot,
        tmp_path / "job",
        _config(max_steps=50),
        should_cancel=should_cancel,
    )
    assert result.cancelled and result.adapter_dir is None and result.adapter_sha256 is None
    assert result.steps == 2
    assert not (tmp_path / "job" / "adapter").exists()
    assert not (tmp_path / "job" / "result.json").exists()


def _start(base: Path, snap_dir: Path, out: Path, config: TrainConfig) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "generation.training",
            str(base),
            str(snap_dir),
            str(out),
            "--config",
            json.dumps(config.to_dict()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )


def test_it_resumes_after_a_kill_from_the_last_complete_checkpoint(
    tiny_model_dir, snapshot, tmp_path
) -> None:
    snap_dir = snapshot.write(tmp_path / "snapshot")
    out = tmp_path / "job"
    config = _config(max_steps=40, eval_steps=3, save_steps=3, keep_checkpoints=3)

    proc = _start(tiny_model_dir, snap_dir, out, config)
    assert proc.stdout is not None
    for line in proc.stdout:
        report = json.loads(line).get("progress")
        if report and report["step"] >= 7:  # checkpoint-6 has been published by now
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    run_dir = out / "sft"
    complete = complete_checkpoints(run_dir)
    assert complete, "no complete checkpoint before the kill"
    last_step = complete[-1][0]
    assert last_step < 40 and not (out / "adapter").exists()
    # Plant what a kill during a checkpoint write leaves behind, and worse: a folder
    # with a checkpoint's name and a higher step but no completion marker.
    half = run_dir / "checkpoint-30"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"\0" * 10)
    (half / "trainer_state.json").write_text('{"global_step": 30')
    staged = run_dir / ".staging" / f"checkpoint-{last_step + 3}"
    staged.mkdir(parents=True)
    (staged / "adapter_model.safetensors").write_bytes(b"\0" * 10)

    proc = _start(tiny_model_dir, snap_dir, out, config)
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    first = next(line["progress"] for line in lines if "progress" in line)
    assert first["step"] == last_step and "resumed" in first["message"]
    result = lines[-1]["result"]
    assert result["resumed_from_step"] == last_step and result["steps"] == 40
    adapter = Path(result["adapter_dir"])
    assert result["adapter_sha256"] == adapter_sha256(adapter)
    assert not half.exists() and not (run_dir / ".staging").exists()
    assert all((path / COMPLETE_MARKER).is_file() for _, path in complete_checkpoints(run_dir))
    assert _pickles(out) == []


def test_it_round_trips_the_config_for_the_job_row() -> None:
    config = _config(target_modules=("q_proj", "v_proj"))
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config
    assert dataclasses.replace(config, epochs=1.0).epochs == 1.0


def test_it_stops_early_when_eval_loss_stalls(tiny_model_dir, snapshot, tmp_path) -> None:
    from generation.training import train_adapter

    # An improvement threshold no eval can beat: the second evaluation counts as a
    # stall, and patience 1 stops the run there.
    config = _config(
        max_steps=30,
        eval_steps=2,
        save_steps=2,
        early_stopping_patience=1,
        early_stopping_threshold=10.0,
    )
    result = train_adapter(tiny_model_dir, snapshot, tmp_path / "job", config)
    assert result.stopped_early and not result.cancelled
    assert result.steps == 4
    assert result.adapter_sha256 == adapter_sha256(result.adapter_dir)


def test_it_refuses_a_second_trainer_on_the_same_folder(tiny_model_dir, snapshot, tmp_path) -> None:
    import fcntl

    from generation.training import TrainingInProgress, train_adapter

    out = tmp_path / "job"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a live first delivery holds
        with pytest.raises(TrainingInProgress):
            train_adapter(tiny_model_dir, snapshot, out, _config())


def test_it_restores_optimizer_scheduler_and_rng_state_without_pickle(tmp_path) -> None:
    import random

    import torch

    from generation.training.checkpoints import (
        load_optimizer_state,
        load_rng_state,
        save_optimizer_state,
        save_rng_state,
    )

    def make() -> tuple[Any, Any, Any]:
        torch.manual_seed(0)
        layer = torch.nn.Linear(4, 3)
        opt = torch.optim.AdamW(layer.parameters(), lr=0.1, betas=(0.8, 0.95))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (step + 1))
        return layer, opt, sched

    layer, opt, sched = make()
    for _ in range(3):
        layer(torch.ones(2, 4)).sum().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    save_optimizer_state(opt, sched, tmp_path)
    save_rng_state(tmp_path)
    expected = (random.random(), torch.rand(2).tolist())
    assert _pickles(tmp_path) == []

    _, opt2, sched2 = make()
    assert load_optimizer_state(opt2, sched2, tmp_path)
    load_rng_state(tmp_path)
    assert (random.random(), torch.rand(2).tolist()) == expected
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(opt.state_dict()["state"][0][key], opt2.state_dict()["state"][0][key])
    assert opt2.param_groups[0]["betas"] == (0.8, 0.95)
    assert sched2.last_epoch == 3 and sched2.get_last_lr() == sched.get_last_lr()


def test_the_compact_loss_equals_the_models_own_loss(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    from generation.training.trainer import _compact_completion_loss, build_sft_trainer

    trainer = build_sft_trainer(tiny_model_dir, [_sft(1), _sft(123)], [], tmp_path, _config())
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    model = trainer.model
    expected = model(**batch).loss
    assert torch.allclose(_compact_completion_loss(model, batch), expected, atol=1e-5)
    n = int((batch["labels"][:, 1:] != -100).sum())
    assert torch.allclose(_compact_completion_loss(model, batch, n), expected, atol=1e-5)
