"""The promotion gate: held-out briefs, same seeds, edit cost, paired bootstrap, verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generation.adapters import AdapterRef
from generation.gate import (
    DRAFTS_FAILED,
    MORE_FLAGS,
    NO_HELD_OUT,
    NOT_BETTER,
    PASSED,
    GateDraft,
    held_out_briefs,
    paired_bootstrap,
    run_gate,
    score_gate,
    write_gate_drafts,
)
from generation.training import SFTExample

FINALS = [f"Ahoy from Harbor Lane! Our blend {i} is bold. Warmly, the crew." for i in range(8)]
# The same brief in Chinese: costs are counted in characters there.
ZH_FINAL = "港口巷向您问好！我们的新咖啡浓郁顺滑。船员敬上。"


def _examples(finals: list[str]) -> list[SFTExample]:
    return [SFTExample([{"role": "system", "content": "House style."},
                        {"role": "user", "content": f"Blurb for blend {i}."}], text)
            for i, text in enumerate(finals)]


def test_it_picks_each_prompt_once_in_a_fixed_order_with_a_seed_per_prompt() -> None:
    examples = _examples(FINALS)
    twice = examples + [SFTExample(examples[0].messages, "Another approval of blend 0.")]
    briefs = held_out_briefs(twice, limit=100)
    assert len(briefs) == len(FINALS)
    assert held_out_briefs(list(reversed(twice)), limit=100) == briefs
    assert len({b.seed for b in briefs}) == len(briefs)
    assert [b.brief_text for b in held_out_briefs(examples, limit=3)] == [
        b.brief_text for b in briefs[:3]]


def test_the_bootstrap_is_seeded_and_its_interval_excludes_zero_only_for_a_real_gain() -> None:
    gain = [-0.4, -0.5, -0.3, -0.45, -0.2, -0.35, -0.5, -0.4]
    mean, low, high = paired_bootstrap(gain, resamples=2000, seed=0)
    assert paired_bootstrap(gain, resamples=2000, seed=0) == (mean, low, high)
    assert low <= mean <= high < 0
    noise = [-0.4, 0.5, -0.3, 0.45, -0.2, 0.35, -0.5, 0.4]
    _, low, high = paired_bootstrap(noise)
    assert low < 0 < high
    with pytest.raises(ValueError):
        paired_bootstrap([])


def _score(cand: list[GateDraft], inc: list[GateDraft], finals: list[str] = FINALS):
    return score_gate(held_out_briefs(_examples(finals), limit=100), cand, inc,
                      candidate_loss=1.0, incumbent_loss=2.0, resamples=500)


def test_it_passes_a_candidate_whose_drafts_need_fewer_edits() -> None:
    briefs = held_out_briefs(_examples(FINALS), limit=100)
    cand = [GateDraft(b.final.replace("bold", "rich")) for b in briefs]
    inc = [GateDraft("Coffee is a drink many people enjoy in the morning.") for _ in briefs]
    report = score_gate(briefs, cand, inc, candidate_loss=1.0, incumbent_loss=2.0)
    assert report.verdict == PASSED and report.passed
    data = json.loads(json.dumps(report.to_dict()))  # what the version stores
    assert data["candidate"]["mean_cost"] < data["incumbent"]["mean_cost"]
    assert data["difference"]["high"] < 0 and data["n"] == len(FINALS)
    assert data["candidate"]["eval_loss"] == 1.0 and data["incumbent"]["eval_loss"] == 2.0
    pair = data["pairs"][0]
    assert {"brief", "final", "candidate", "incumbent", "candidate_cost",
            "incumbent_cost"} <= set(pair)
    assert "Better" in report.message


def test_it_refuses_a_gain_that_could_be_noise_and_a_gain_with_more_flags() -> None:
    briefs = held_out_briefs(_examples(FINALS), limit=100)
    same = [GateDraft(b.final + " Extra words here.") for b in briefs]
    assert _score(same, same).verdict == NOT_BETTER
    better = [GateDraft(b.final) for b in briefs]
    worse = [GateDraft("Something else entirely, nothing like the house style.")
             for _ in briefs]
    two = held_out_briefs(_examples(FINALS[:2]), limit=100)
    few = score_gate(two, [GateDraft(b.final) for b in two], worse[:2])
    assert few.verdict == NOT_BETTER and "Too few held-out briefs" in few.message
    flagged = [GateDraft(b.final, flags=("banned_term",)) for b in briefs]
    report = _score(flagged, worse)
    assert report.verdict == MORE_FLAGS and "more drafts flagged" in report.message
    assert _score(worse, better).verdict == NOT_BETTER


def test_it_measures_chinese_drafts_in_characters() -> None:
    final = [ZH_FINAL] * 4
    briefs = held_out_briefs(_examples(final), limit=100)
    close = [GateDraft(ZH_FINAL.replace("浓郁", "醇厚")) for _ in briefs]
    far = [GateDraft("今天天气很好。") for _ in briefs]
    report = score_gate(briefs, close, far, resamples=200)
    assert report.passed
    assert report.candidate["mean_cost"] == pytest.approx(2 / len(ZH_FINAL), abs=0.02)


def test_it_says_so_when_there_is_no_held_out_brief_or_no_usable_candidate_draft() -> None:
    empty = score_gate([], [], [])
    assert empty.verdict == NO_HELD_OUT and not empty.passed
    assert "No held-out briefs" in empty.message
    briefs = held_out_briefs(_examples(FINALS), limit=100)
    failed = [GateDraft("", error="adapter x cannot be loaded") for _ in briefs]
    report = _score(failed, [GateDraft(b.final) for b in briefs])
    assert report.verdict == DRAFTS_FAILED and "adapter x cannot be loaded" in report.message
    assert "live model is unchanged" in report.message


def test_the_engine_writes_gate_drafts_from_the_snapshot_prompt_with_the_same_seeds(
    tiny_model_dir: Path, tmp_path: Path,
) -> None:
    from generation.engine import Engine

    engine = Engine.load(str(tiny_model_dir), tmp_path / "cache")
    briefs = held_out_briefs(_examples(FINALS[:4]), limit=4)
    first = write_gate_drafts(engine, briefs, None, max_new_tokens=12)
    again = write_gate_drafts(engine, list(reversed(briefs)), None, max_new_tokens=12)
    assert [d.text for d in first] == [d.text for d in reversed(again)]
    assert all(not d.failed for d in first)
    # The same model on both sides cannot pass: its costs are equal pair by pair.
    report = run_gate(engine, _examples(FINALS[:4]), candidate=None, incumbent=None,
                      candidate_name="v2", incumbent_name="base model", max_briefs=4,
                      max_new_tokens=12, resamples=200)
    assert report.verdict == NOT_BETTER and report.difference["mean"] == 0
    assert report.settings["max_briefs"] == 4


def test_a_candidate_that_cannot_be_loaded_fails_its_drafts_with_the_reason(
    tiny_model_dir: Path, tmp_path: Path,
) -> None:
    from generation.engine import Engine

    engine = Engine.load(str(tiny_model_dir), tmp_path / "cache")
    report = run_gate(engine, _examples(FINALS[:3]),
                      candidate=AdapterRef(str(tmp_path / "missing"), "0" * 64),
                      incumbent=None, candidate_name="v2", incumbent_name="base model",
                      max_briefs=3, max_new_tokens=8, resamples=100)
    assert report.verdict == DRAFTS_FAILED and report.candidate["failed"] == 3
    assert report.incumbent["failed"] == 0
