"""The loop benchmark, run end to end in a tiny form (tiny random model, a few briefs).

It goes through the studio's real services and tasks (brief_create, generate_job,
review_approve, training_job_start, run_training_job with its gate and auto-promote) in
a subprocess with its own throwaway database; the figures are noise on a random model,
but the shape of the report and the loop's bookkeeping are what the README relies on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.bench_loop import HiddenPreferences, simulated_edit

ROOT = Path(__file__).resolve().parents[2]


def test_the_simulated_editor_applies_every_hidden_preference() -> None:
    prefs = HiddenPreferences()
    draft = ("Our coffee is amazing! Customers enjoy it. It is the perfect start "
             "to a day. " + "More words here. " * 10)
    final = simulated_edit(draft, prefs)
    assert final.endswith(prefs.sign_off)
    assert "amazing" not in final and "coffee" not in final.lower()
    assert "Neighbours savour it." in final and "just right" in final
    body = final.removesuffix(prefs.sign_off)
    assert len(body.split()) <= prefs.max_units
    # A draft already in the house style is approved as written.
    assert simulated_edit(final, prefs) == final


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_loop_benchmark_runs_three_rounds_and_reports_every_arm(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "MODEL_CACHE_DIR": str(tmp_path / "models")}
    overrides = {"max_steps": 2, "eval_steps": 2, "save_steps": 2, "batch_size": 4,
                 "early_stopping_patience": 0}
    out = subprocess.run(
        [sys.executable, "-m", "studio.bench_loop", "--model", "tiny", "--rounds", "3",
         "--briefs", "10", "--held-out", "3", "--target-words", "10",
         "--max-new-tokens", "12", "--train-overrides", json.dumps(overrides)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=580, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(report["rounds"]) == 3 and len(report["acceptance"]) == 3
    for cost in [*report["rounds"], report["no_learning_cost"], report["oracle_cost"]]:
        assert 0.0 <= cost <= 1.0
    assert all(0.0 <= a <= 1.0 for a in report["acceptance"])
    for retrain in report["retrains"]:
        assert retrain["status"] == "succeeded", retrain
        assert retrain["gate"]["verdict"] and retrain["gate"]["n"] >= 1
        # The snapshot grows round by round: the editor's approvals became examples.
    sizes = [r["train_examples"]["sft_train"] + r["train_examples"]["sft_eval"]
             for r in report["retrains"]]
    assert sizes == sorted(sizes) and sizes[0] >= 9
    assert report["promoted"] == [r["promoted"] for r in report["retrains"]]
