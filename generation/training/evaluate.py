"""Held-out evaluation of an adapter (or the bare base) and the promotion gate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generation.prompts import neutralise_control_tokens
from generation.training.adapters import check_safe_adapter
from generation.training.config import EvalMetrics
from generation.training.data import SFTExample


def completion_token_ids(
    tokenizer: Any, example: SFTExample, max_length: int
) -> tuple[list[int], int]:
    """Token ids of prompt + completion and the number of prompt tokens, tokenised the
    way TRL does for conversational prompt-completion data (chat template applied to
    the prompt with the generation prompt, then to the full conversation)."""
    # Editors' texts are people's text too: a marker in them must not end a turn.
    prompt = [{"role": m["role"], "content": neutralise_control_tokens(m["content"], tokenizer)}
              for m in example.messages]
    full = prompt + [{"role": "assistant",
                      "content": neutralise_control_tokens(example.completion, tokenizer)}]
    prompt_ids = tokenizer.apply_chat_template(
        prompt, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    full_ids = tokenizer.apply_chat_template(full, tokenize=True, return_dict=True)["input_ids"]
    n_prompt = len(prompt_ids)
    if full_ids[:n_prompt] != prompt_ids:
        # Some templates render the prompt differently once an answer follows; then the
        # longest common prefix is the prompt, so no prompt token is ever scored.
        n_prompt = next(
            (i for i, (a, b) in enumerate(zip(full_ids, prompt_ids, strict=False)) if a != b),
            min(len(full_ids), n_prompt),
        )
    return list(full_ids[:max_length]), min(n_prompt, max_length)


def evaluate_adapter(
    base_model_dir: str | Path,
    adapter_dir: str | Path | None,
    eval_examples: Sequence[SFTExample],
    *,
    batch_size: int = 8,
    max_length: int = 1024,
) -> EvalMetrics:
    """Completion-only loss of base + adapter on ``eval_examples``.

    ``adapter_dir=None`` evaluates the bare base model (the "live" version of a project
    that has no fine-tune yet). The loss is the mean negative log-likelihood per
    completion token over all examples (token-weighted, so long answers count for
    their length); prompt tokens are never scored. The adapter folder is refused if it
    holds pickle files.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not eval_examples:
        raise ValueError("Evaluation needs at least one held-out example.")
    base_model_dir = Path(base_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model: Any = AutoModelForCausalLM.from_pretrained(
        base_model_dir, dtype=torch.float32, use_safetensors=True, device_map=device
    )
    if adapter_dir is not None:
        from peft import PeftModel

        check_safe_adapter(adapter_dir)
        model = PeftModel.from_pretrained(model, Path(adapter_dir), use_safetensors=True).to(device)
    model.eval()

    encoded = [completion_token_ids(tokenizer, ex, max_length) for ex in eval_examples]
    # Sort by length so each batch pads little; the loss is a sum, so order is irrelevant.
    encoded.sort(key=lambda item: len(item[0]))
    total_nll = 0.0
    total_tokens = 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            for row, (ids, n_prompt) in enumerate(chunk):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                attention[row, : len(ids)] = 1
                labels[row, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention.to(device)
            ).logits.float()
            shift_logits = logits[:, :-1].reshape(-1, logits.size(-1))
            shift_labels = labels[:, 1:].reshape(-1).to(device)
            total_nll += float(
                torch.nn.functional.cross_entropy(
                    shift_logits, shift_labels, ignore_index=-100, reduction="sum"
                )
            )
            total_tokens += int((shift_labels != -100).sum())
    if total_tokens == 0:
        raise ValueError("The held-out examples have no completion tokens to score.")
    loss = total_nll / total_tokens
    return EvalMetrics(
        loss=loss,
        perplexity=math.exp(min(loss, 700.0)),
        n_tokens=total_tokens,
        n_examples=len(eval_examples),
    )


def compare(candidate: EvalMetrics, incumbent: EvalMetrics, *, margin: float = 0.01) -> bool:
    """Promotion gate: True when the candidate's eval loss is lower than the
    incumbent's by at least ``margin`` (a relative fraction: 0.01 = 1 % lower).

    A relative margin keeps noise on a small eval set from flipping the live model
    back and forth between near-equal versions.
    """
    if margin < 0:
        raise ValueError("margin must be >= 0")
    return candidate.loss <= incumbent.loss * (1.0 - margin) and candidate.loss < incumbent.loss
