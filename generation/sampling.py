"""Sampling for a whole batch at once: each row with its own settings and seed.

One call picks the next token of every row with tensor operations only (no Python loop
over rows), as vLLM's sampler does: repetition penalty, a minimum length, temperature,
top-k and top-p are per-row tensors, and the random draw of each row comes from a
counter-based hash of (row seed, row step) rather than a stateful generator. A row's
draw therefore depends only on its own seed and how many tokens it has written, never on
which rows share its batch or when it joined.

Candidates are ordered by token id before the draw: a rounding-level change in the
logits (batched matrix products round differently from a batch of one by ~1e-6) moves an
interval boundary by about as much instead of reordering whole intervals, so the same
seed gives the same text alone or in any batch on the CPU in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_M32 = 0xFFFFFFFF


def _mix32(x: Any) -> Any:
    """A 32-bit integer hash (two multiply-xorshift rounds) on int64 tensors holding
    values below 2**32; the constant is below 2**27, so no product overflows int64."""
    x = ((x >> 16) ^ x) * 0x45D9F3B & _M32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _M32
    return (x >> 16) ^ x


def uniform(seed_hi: Any, seed_lo: Any, step: Any) -> Any:
    """One float64 draw in [0, 1) per row from (seed halves, step), 53 random bits."""
    import torch

    h1 = _mix32(seed_lo ^ _mix32((step + 0x9E3779B9) & _M32))
    h2 = _mix32(seed_hi ^ _mix32(h1 ^ 0x85EBCA6B))
    bits = h1 * (1 << 21) + (h2 >> 11)
    return bits.to(torch.float64) / float(1 << 53)


@dataclass
class RowParams:
    """Per-row sampling settings as tensors of shape (rows,) on the model's device."""

    temperature: Any
    top_p: Any
    top_k: Any  # 0 = the whole vocabulary
    penalty: Any
    min_new: Any
    seed_hi: Any
    seed_lo: Any

    @classmethod
    def build(cls, rows: list[tuple[float, float, int, float, int, int]], device: Any
              ) -> RowParams:
        """From (temperature, top_p, top_k, repetition_penalty, min_new_tokens, seed)."""
        import torch

        def col(i: int, dtype: Any) -> Any:
            return torch.tensor([r[i] for r in rows], dtype=dtype, device=device)

        seeds = col(5, torch.int64)
        return cls(col(0, torch.float32), col(1, torch.float32), col(2, torch.int64),
                   col(3, torch.float32), col(4, torch.int64),
                   (seeds >> 32) & _M32, seeds & _M32)

    def select(self, keep: Any) -> RowParams:
        return RowParams(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[RowParams]) -> RowParams:
        import torch

        return RowParams(*(torch.cat([getattr(p, f) for p in parts])
                           for f in RowParams.__dataclass_fields__))


def sample(logits: Any, *, params: RowParams, seen: Any, generated: Any, eos_ids: Any) -> Any:
    """The next token of every row: a (rows,) int64 tensor.

    ``logits`` (rows, vocab); ``seen`` (rows, vocab) bool, the tokens of each row's prompt
    and output so far (repetition penalty); ``generated`` (rows,) tokens written so far
    (the minimum length, and the counter of the random draw); ``eos_ids`` a tensor of the
    end-of-sequence ids.
    """
    import torch

    scores = logits.float()
    penalty = params.penalty.unsqueeze(1)
    penalised = torch.where(scores > 0, scores / penalty, scores * penalty)
    scores = torch.where(seen & (penalty != 1.0), penalised, scores)
    early = (generated < params.min_new).unsqueeze(1)
    is_eos = torch.zeros_like(seen[:1]).index_fill_(1, eos_ids, True)
    scores = scores.masked_fill(early & is_eos, float("-inf"))

    vocab = scores.shape[1]
    wanted = torch.where(params.top_k > 0, params.top_k.clamp(max=vocab), vocab)
    k = int(wanted.max())
    values, ids = torch.topk(scores, k, dim=-1)  # sorted by score, highest first
    rank = torch.arange(k, device=scores.device).unsqueeze(0)
    values = values.masked_fill(rank >= wanted.unsqueeze(1), float("-inf"))
    temperature = params.temperature.clamp(min=1e-6).unsqueeze(1)
    probs = torch.softmax(values / temperature, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs
    keep = (before < params.top_p.unsqueeze(1)) | (rank == 0)
    probs = probs.masked_fill(~keep, 0.0)
    order = torch.argsort(ids, dim=-1)
    probs = probs.gather(1, order).double()
    by_id = ids.gather(1, order)
    cumulative = torch.cumsum(probs, dim=-1)
    cumulative = cumulative / cumulative[:, -1:]
    draw = uniform(params.seed_hi, params.seed_lo, generated).unsqueeze(1)
    index = (cumulative <= draw).sum(dim=-1, keepdim=True).clamp(max=k - 1)
    sampled = by_id.gather(1, index).squeeze(1)
    return torch.where(params.temperature == 0, ids[:, 0], sampled)
