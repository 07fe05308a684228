"""Training throughput: this package's trainer against a plain transformers + peft run.

    python -m generation.bench train [--quick] [--model SPEC_OR_DIR] [--steps N] [--batch-size B]

Both runs fine-tune the same LoRA (same rank, targets, learning rate, precision) on the
same examples, for the same number of optimizer steps and the same batch size, with
loss on the completion only. The baseline is what one writes by hand: ``Trainer`` over
a peft model, random batches padded to each batch's longest example
(``DataCollatorForSeq2Seq``). Throughput counts real tokens only (pad tokens excluded),
timed from the end of the first step (warm-up) to the end of the last, so model loading
and the first step's allocations are not measured.

Runs go trainer, baseline, baseline, trainer (--quick: one each) so that load from
other jobs on a shared machine hits both sides alike; real tokens per CPU-second of
this process are reported too, being less sensitive to such load.

The last printed line is one JSON object with trainer_tokens_per_s,
baseline_tokens_per_s and ratio (trainer / baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from generation.training.config import TrainConfig
from generation.training.data import SFTExample

DEFAULT_MODEL = "bundled:smollm2-135m-instruct"

_TOPICS = ["coffee", "running shoes", "a city bike", "solar panels", "a budgeting app", "tea"]
_KINDS = [
    # (kind, instruction, sentences in the answer): the mix of short and long outputs a
    # studio sees (ads and social posts next to summaries and articles).
    ("ad_copy", "Write ad copy with a headline and a call to action", 2),
    ("social_post", "Write a social post", 1),
    ("summary", "Summarise the source text in a few sentences", 5),
    ("email", "Write a customer email", 8),
    ("article", "Write a short article", 18),
]
_SENTENCES = [
    "It is made for people who want more from every morning.",
    "Our team tested it for months before we were happy with it.",
    "You can order today and it arrives in two days.",
    "The price stays the same for the whole year.",
    "Customers tell us it changed how they plan their week.",
    "Every part can be repaired, so it lasts for years.",
    "We answer every question within a day.",
    "Try it for thirty days and send it back if it is not for you.",
]


def benchmark_examples(n: int, seed: int = 0) -> list[SFTExample]:
    """Deterministic examples of mixed content kinds and lengths."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        kind, instruction, sentences = _KINDS[i % len(_KINDS)]
        topic = rng.choice(_TOPICS)
        count = max(1, sentences + rng.randint(-1, 2))
        body = " ".join(rng.choice(_SENTENCES) for _ in range(count))
        examples.append(
            SFTExample(
                [
                    {"role": "system", "content": "Brand voice: warm, plain, no jargon."},
                    {"role": "user", "content": f"{instruction} about {topic} ({kind} {i})."},
                ],
                f"{topic.capitalize()}: {body}",
            )
        )
    return examples


class _Timer:
    """TrainerCallback recording the wall time at the end of every optimizer step."""

    def __init__(self) -> None:
        self.step_ends: list[float] = []
        self.cpu_ends: list[float] = []

    def callback(self) -> Any:
        from transformers import TrainerCallback

        timer = self

        class StepTimer(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                timer.step_ends.append(time.perf_counter())
                timer.cpu_ends.append(time.process_time())

        return StepTimer()


def _counting(collator: Any, real: list[int], padded: list[int]) -> Any:
    """Wrap a collator to record each batch's real (non-pad) and total token counts.

    Batches are recorded in the order they are built, which is the order of steps
    (accelerate may build one batch ahead, which shifts timing, not attribution).
    """

    def collate(features: list[dict[str, Any]]) -> Any:
        batch = collator(features)
        real.append(sum(len(f["input_ids"]) for f in features))
        padded.append(int(batch["input_ids"].numel()))
        return batch

    return collate


def _throughput(timer: _Timer, real: list[int], padded: list[int], steps: int) -> dict[str, float]:
    # Steps 2..N: the first step carries one-off allocations and lazy initialisation.
    return {
        "tokens": sum(real[1:steps]),
        "padded_tokens": sum(padded[1:steps]),
        "seconds": timer.step_ends[steps - 1] - timer.step_ends[0],
        "cpu_seconds": timer.cpu_ends[steps - 1] - timer.cpu_ends[0],
    }


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    tokens = sum(r["tokens"] for r in runs)
    padded = sum(r["padded_tokens"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    cpu = sum(r["cpu_seconds"] for r in runs)
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "tokens_per_cpu_s": tokens / cpu if cpu else 0.0,
        "padding_fraction": 1 - tokens / padded if padded else 0.0,
    }


def run_trainer(
    model_dir: Path, examples: list[SFTExample], config: TrainConfig, work: Path
) -> dict[str, float]:
    """Time this package's SFT trainer (the one ``train_adapter`` uses)."""
    from generation.training.trainer import build_sft_trainer

    trainer = build_sft_trainer(model_dir, examples, [], work, config)
    timer, real, padded = _Timer(), list[int](), list[int]()
    trainer.data_collator = _counting(trainer.data_collator, real, padded)
    trainer.add_callback(timer.callback())
    trainer.args.save_strategy = "no"
    trainer.train()
    return _throughput(timer, real, padded, config.max_steps)


def run_baseline(
    model_dir: Path, examples: list[SFTExample], config: TrainConfig, work: Path
) -> dict[str, float]:
    """Time a hand-written transformers ``Trainer`` + peft run on the same data."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from generation.training.trainer import tokenize_sft

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(
        model,
        LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.target_modules
            if isinstance(config.target_modules, str)
            else list(config.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    rows = []
    for row in tokenize_sft(tokenizer, examples, config.max_length):
        mask = row["completion_mask"]
        labels = [t if m else -100 for t, m in zip(row["input_ids"], mask, strict=True)]
        rows.append(
            {"input_ids": row["input_ids"], "attention_mask": [1] * len(mask), "labels": labels}
        )
    args = TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=config.batch_size,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=config.seed,
        dataloader_num_workers=0,
        bf16=False,
    )
    timer, real, padded = _Timer(), list[int](), list[int]()
    collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=_counting(collator, real, padded),
        callbacks=[timer.callback()],
    )
    trainer.remove_callback(PrinterCallback)  # keep stdout to the summary lines
    trainer.train()
    return _throughput(timer, real, padded, config.max_steps)


def _resolve_model(spec: str, cache_dir: str | None) -> tuple[Path, str]:
    if spec == "tiny":
        from generation.testing import build_tiny_model

        return build_tiny_model(Path(tempfile.mkdtemp(prefix="bench-tiny-"))), "tiny-random-llama"
    from generation.models import resolve_model_dir

    cache = (
        cache_dir
        or os.environ.get("MODEL_CACHE_DIR")
        or str(Path.home() / ".cache/content-studio/models")
    )
    return resolve_model_dir(spec, cache), spec


def main(argv: list[str] | None = None) -> int:
    """Run both trainers and print a summary; the last line is one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m generation.bench train")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model spec, local folder, or 'tiny'"
    )
    parser.add_argument("--quick", action="store_true", help="few steps: a smoke run, not a figure")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps per run (default 5; 3 with --quick)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--examples", type=int, default=96)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)

    import torch

    steps = args.steps or (3 if args.quick else 5)
    if steps < 2:
        parser.error("--steps must be at least 2 (the first step is warm-up)")
    model_dir, model_name = _resolve_model(args.model, args.cache_dir)
    examples = benchmark_examples(args.examples)
    config = TrainConfig.for_dataset(
        len(examples),
        batch_size=args.batch_size,
        max_steps=steps,
        precision="fp32",
        eval_steps=10**6,
        save_steps=10**6,
    )
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        print(
            f"model {model_name}, {steps} steps x batch {args.batch_size} per run, runs in "
            f"order trainer, baseline, baseline, trainer; fp32, {torch.get_num_threads()} threads"
        )
        # A-B-B-A order: a load change on a shared machine (other jobs) hits both sides
        # alike instead of favouring whichever ran in the quieter minute.
        runs: dict[str, list[dict[str, float]]] = {"trainer": [], "baseline": []}
        for i, name in enumerate(("trainer", "baseline", "baseline", "trainer")):
            if args.quick and i >= 2:
                break
            run = run_trainer if name == "trainer" else run_baseline
            runs[name].append(run(model_dir, examples, config, work / f"{name}-{i}"))
            done = runs[name][-1]
            print(
                f"{name:8s} run {i + 1}: {done['tokens'] / done['seconds']:.1f} real tokens/s "
                f"({done['tokens']} tokens in {done['seconds']:.1f} s)",
                flush=True,
            )
        ours, base = _summary(runs["trainer"]), _summary(runs["baseline"])
        for name, figures in (("trainer", ours), ("baseline", base)):
            print(
                f"{name:8s}: {figures['tokens_per_s']:.1f} real tokens/s, "
                f"padding {figures['padding_fraction']:.0%}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "train",
        "model": model_name,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "dtype": "fp32",
        "threads": torch.get_num_threads(),
        "steps": steps,
        "timed_steps": steps - 1,
        "runs_each": len(runs["trainer"]),
        "batch_size": args.batch_size,
        "trainer_real_tokens": ours["tokens"],
        "baseline_real_tokens": base["tokens"],
        "trainer_padding_fraction": round(ours["padding_fraction"], 4),
        "baseline_padding_fraction": round(base["padding_fraction"], 4),
        "trainer_tokens_per_s": round(ours["tokens_per_s"], 2),
        "baseline_tokens_per_s": round(base["tokens_per_s"], 2),
        "ratio": round(ours["tokens_per_s"] / base["tokens_per_s"], 3),
        "trainer_tokens_per_cpu_s": round(ours["tokens_per_cpu_s"], 2),
        "baseline_tokens_per_cpu_s": round(base["tokens_per_cpu_s"], 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
