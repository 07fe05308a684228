"""The promotion gate: candidate and live model write drafts for the same held-out briefs.

Eval loss says how likely the approved texts are under a model; editors feel something
else: how much they must change before they approve. So before a candidate version goes
live, it and the version it would replace (or the bare base) each write one draft for
every held-out brief of the candidate's training snapshot, with the same seed per brief,
and each draft is scored by its edit cost against the text the editor approved
(:func:`generation.editcost.edit_cost`, PRELUDE-style). The gate passes when the mean
paired difference in edit cost is below zero with a 95 % paired-bootstrap interval that
excludes zero, and the candidate's quality-flag rate is no higher than the live one's.

Plain Python over the engine: the Celery task is the only caller in the studio, the loop
benchmark another. numpy is imported lazily (the bootstrap), torch only by the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generation.checks import TRUNCATED
from generation.editcost import edit_cost
from generation.errors import GenerationError
from generation.prompts import BriefInput, ProjectVoice

if TYPE_CHECKING:
    from generation.adapters import AdapterRef
    from generation.engine import Engine

# Verdicts, stable strings stored on the version and keyed on by the page.
PASSED = "passed"
NOT_BETTER = "not_better"  # edit cost not lower, or its interval reaches zero
MORE_FLAGS = "more_flags"  # lower cost, but more drafts flagged than the live model's
NO_HELD_OUT = "no_held_out"  # the snapshot kept no brief aside: nothing to compare
DRAFTS_FAILED = "drafts_failed"  # the candidate wrote no usable draft at all

# Fewer pairs than this cannot pass: a bootstrap over one or two pairs is no evidence.
MIN_PAIRS = 3

# Sampling of gate drafts: the studio's defaults, so the gate sees what editors would.
GATE_TEMPERATURE = 0.8


@dataclass(frozen=True)
class HeldOutBrief:
    """One held-out brief: the prompt the approved text answered, that text, and the
    seed both sides write with."""

    messages: tuple[dict[str, str], ...]
    final: str
    seed: int

    @property
    def brief_text(self) -> str:
        """The last user turn: what the brief asked for, as the prompt put it."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass(frozen=True)
class GateDraft:
    """One side's draft for one held-out brief. ``error`` is set when it failed (the
    side could not write, or wrote nothing); ``flags`` are quality-flag codes."""

    text: str
    flags: tuple[str, ...] = ()
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def held_out_briefs(examples: Sequence[Any], *, limit: int) -> list[HeldOutBrief]:
    """The gate's briefs from a snapshot's held-out SFT examples (``messages`` and
    ``completion``): one per distinct prompt, in a fixed order (by example id, so the
    same snapshot always gives the same briefs), at most ``limit``. The seed is derived
    from the prompt, so the candidate and the live model sample alike."""
    seen: set[str] = set()
    out: list[HeldOutBrief] = []
    for example in sorted(examples, key=lambda ex: ex.example_id):
        prompt_key = hashlib.sha256(repr(example.messages).encode()).hexdigest()
        if prompt_key in seen:
            continue
        seen.add(prompt_key)
        out.append(HeldOutBrief(messages=tuple(dict(m) for m in example.messages),
                                final=example.completion,
                                seed=int(prompt_key[:12], 16)))
        if len(out) >= limit:
            break
    return out


def draft_budget(engine: Engine, final: str, cap: int) -> int:
    """Tokens a gate draft may take: enough for the approved text's length and a
    quarter more, never more than ``cap`` (the gate must stay cheap on CPUs)."""
    n = len(engine.base.tokenizer(final, add_special_tokens=False).input_ids)
    return max(8, min(cap, n * 5 // 4 + 8))


def write_gate_drafts(
    engine: Engine,
    briefs: Sequence[HeldOutBrief],
    adapter: AdapterRef | None,
    *,
    max_new_tokens: int,
    voice: ProjectVoice | None = None,
) -> list[GateDraft]:
    """One draft per held-out brief with ``adapter`` (None: the bare base), each with
    its brief's seed, in one batched call. A side that cannot write at all (its adapter
    does not load, a prompt does not fit) comes back as failed drafts with the reason;
    nothing is raised for it."""
    from generation.engine import GenerationRequest, SamplingParams

    if not briefs:
        return []
    voice = voice or ProjectVoice()
    requests = [
        GenerationRequest(
            # The brief is not rendered: ``messages`` is the exact prompt the approved
            # text answered. The kind only names the request in errors.
            brief=BriefInput(kind="article", title="held-out brief"),
            messages=brief.messages, voice=voice, adapter=adapter, seed=brief.seed,
            sampling=SamplingParams(temperature=GATE_TEMPERATURE,
                                    max_new_tokens=draft_budget(engine, brief.final,
                                                                max_new_tokens)),
            request_id=f"gate-{i}",
        )
        for i, brief in enumerate(briefs)
    ]
    try:
        results = engine.generate(requests)
    except GenerationError as exc:
        return [GateDraft(text="", error=str(exc)) for _ in briefs]
    drafts = []
    for result in results:
        draft = result.drafts[0]
        # The gate's budget is short on purpose, so a cut-off draft is not a fault here.
        flags = tuple(sorted({f.code for f in draft.flags if f.code != TRUNCATED}))
        drafts.append(GateDraft(text=draft.text, flags=flags,
                                error="" if draft.text.strip() else "wrote nothing"))
    return drafts


def paired_bootstrap(
    differences: Sequence[float], *, resamples: int = 2000, confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of paired differences and its percentile bootstrap interval: resample the
    pairs with replacement ``resamples`` times (seeded, so the same data give the same
    interval). Returns (mean, low, high)."""
    import numpy as np

    values = np.asarray(differences, dtype=float)
    if values.size == 0:
        raise ValueError("The bootstrap needs at least one pair.")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


@dataclass
class GateReport:
    """The gate's outcome, JSON-ready through :meth:`to_dict` (stored on the version)."""

    verdict: str
    message: str
    n: int = 0
    candidate: dict[str, Any] = field(default_factory=dict)
    incumbent: dict[str, Any] = field(default_factory=dict)
    difference: dict[str, Any] = field(default_factory=dict)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "passed": self.passed, "message": self.message,
                "n": self.n, "candidate": self.candidate, "incumbent": self.incumbent,
                "difference": self.difference, "pairs": self.pairs,
                "settings": self.settings}


def _side(drafts: Sequence[GateDraft], costs: Sequence[float]) -> dict[str, Any]:
    n = len(drafts)
    return {
        "mean_cost": round(sum(costs) / n, 4) if n else None,
        "flag_rate": round(sum(1 for d in drafts if d.flags) / n, 4) if n else None,
        "failed": sum(1 for d in drafts if d.failed),
        "errors": sorted({d.error for d in drafts if d.failed})[:3],
    }


def score_gate(
    briefs: Sequence[HeldOutBrief],
    candidate: Sequence[GateDraft],
    incumbent: Sequence[GateDraft],
    *,
    candidate_name: str = "candidate",
    incumbent_name: str = "live model",
    candidate_loss: float | None = None,
    incumbent_loss: float | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> GateReport:
    """Score both sides' drafts against the approved texts and decide.

    A failed draft costs 1 (nothing of it is usable). Passed: mean paired difference
    (candidate - incumbent) below zero, the bootstrap interval's upper end below zero,
    and the candidate's flag rate no higher than the incumbent's."""
    losses = {"candidate": candidate_loss, "incumbent": incumbent_loss}
    if not briefs:
        return GateReport(
            verdict=NO_HELD_OUT, n=0,
            message=(f"No held-out briefs: the training snapshot kept no approved text "
                     f"aside, so {candidate_name} could not be compared with the "
                     f"{incumbent_name}. Add approvals and retrain, or promote with a "
                     "reason."),
            candidate={"eval_loss": candidate_loss}, incumbent={"name": incumbent_name,
                                                                "eval_loss": incumbent_loss},
        )
    if len(candidate) != len(briefs) or len(incumbent) != len(briefs):
        raise ValueError("Each side needs exactly one draft per held-out brief.")
    cand_costs = [1.0 if d.failed else edit_cost(d.text, b.final).cost
                  for d, b in zip(candidate, briefs, strict=True)]
    inc_costs = [1.0 if d.failed else edit_cost(d.text, b.final).cost
                 for d, b in zip(incumbent, briefs, strict=True)]
    cand = {**_side(candidate, cand_costs), "name": candidate_name,
            "eval_loss": losses["candidate"]}
    inc = {**_side(incumbent, inc_costs), "name": incumbent_name,
           "eval_loss": losses["incumbent"]}
    pairs = [
        {"brief": b.brief_text, "final": b.final, "seed": b.seed,
         "candidate": c.text, "candidate_cost": round(cc, 4), "candidate_flags": list(c.flags),
         "candidate_error": c.error,
         "incumbent": i.text, "incumbent_cost": round(ic, 4), "incumbent_flags": list(i.flags),
         "incumbent_error": i.error}
        for b, c, i, cc, ic in zip(briefs, candidate, incumbent, cand_costs, inc_costs,
                                   strict=True)
    ]
    n = len(briefs)
    report = GateReport(verdict="", message="", n=n, candidate=cand, incumbent=inc,
                        pairs=pairs)
    if cand["failed"] == n:
        report.verdict = DRAFTS_FAILED
        report.message = (f"{candidate_name} wrote no usable draft for any of the {n} "
                          f"held-out briefs ({'; '.join(cand['errors']) or 'no text'}). "
                          "It cannot be promoted; the live model is unchanged.")
        return report
    diffs = [c - i for c, i in zip(cand_costs, inc_costs, strict=True)]
    mean, low, high = paired_bootstrap(diffs, resamples=resamples, confidence=confidence,
                                       seed=seed)
    report.difference = {"mean": round(mean, 4), "low": round(low, 4),
                         "high": round(high, 4), "resamples": resamples,
                         "confidence": confidence}
    pct = f"{confidence:.0%}"
    if n < MIN_PAIRS:
        report.verdict = NOT_BETTER
        report.message = (f"Too few held-out briefs to judge ({n}; the gate needs at least "
                          f"{MIN_PAIRS}): edit cost {cand['mean_cost']:.3f} vs "
                          f"{inc['mean_cost']:.3f}. The {incumbent_name} stays unless an "
                          "admin promotes with a reason; more approvals give the gate "
                          "more briefs.")
        return report
    costs = (f"edit cost {cand['mean_cost']:.3f} vs {inc['mean_cost']:.3f} "
             f"(difference {mean:+.3f}, {pct} interval {low:+.3f} to {high:+.3f}, "
             f"{n} held-out brief{'s' if n != 1 else ''})")
    if not (mean < 0 and high < 0):
        report.verdict = NOT_BETTER
        report.message = (f"Not better: {costs}; the interval must lie below zero. "
                          f"The {incumbent_name} stays unless an admin promotes with a reason.")
    elif cand["flag_rate"] > inc["flag_rate"]:
        report.verdict = MORE_FLAGS
        report.message = (f"Lower {costs}, but more drafts flagged ({cand['flag_rate']:.0%} "
                          f"vs {inc['flag_rate']:.0%}). The {incumbent_name} stays unless "
                          "an admin promotes with a reason.")
    else:
        report.verdict = PASSED
        report.message = f"Better: {costs}; flags {cand['flag_rate']:.0%} vs {inc['flag_rate']:.0%}."
    return report


def run_gate(
    engine: Engine,
    held_out: Sequence[Any],
    *,
    candidate: AdapterRef | None,
    incumbent: AdapterRef | None,
    candidate_name: str,
    incumbent_name: str,
    max_briefs: int,
    max_new_tokens: int,
    voice: ProjectVoice | None = None,
    candidate_loss: float | None = None,
    incumbent_loss: float | None = None,
    resamples: int = 2000,
) -> GateReport:
    """The whole gate on one engine: pick the held-out briefs, write both sides'
    drafts with the same seeds, score and decide."""
    import time

    started = time.monotonic()
    briefs = held_out_briefs(held_out, limit=max_briefs)
    cand = write_gate_drafts(engine, briefs, candidate, max_new_tokens=max_new_tokens,
                             voice=voice)
    inc = write_gate_drafts(engine, briefs, incumbent, max_new_tokens=max_new_tokens,
                            voice=voice)
    report = score_gate(briefs, cand, inc, candidate_name=candidate_name,
                        incumbent_name=incumbent_name, candidate_loss=candidate_loss,
                        incumbent_loss=incumbent_loss, resamples=resamples)
    report.settings = {"max_briefs": max_briefs, "max_new_tokens": max_new_tokens,
                       "temperature": GATE_TEMPERATURE, "held_out": len(held_out),
                       "seconds": round(time.monotonic() - started, 1)}
    return report


def voice_of(data: Mapping[str, Any] | None) -> ProjectVoice:
    """A ProjectVoice from plain data (``must_not``, ``banned_terms``): what the checks
    of gate drafts use."""
    data = data or {}
    return ProjectVoice(must_not=tuple(data.get("must_not") or ()),
                        banned_terms=tuple(data.get("banned_terms") or ()))
