"""The quality benchmark runs end to end (on the tiny model here; the README's figures
come from the bundled one) and reports what the issue asks, in its last line."""

from __future__ import annotations

import json

from generation.bench import main


def test_the_quality_benchmark_reports_every_figure(tiny_model_dir, tmp_path, capsys) -> None:
    assert main(["quality", "--quick", "--model", str(tiny_model_dir),
                 "--cache-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["drafts"] == 8  # one per kind
    for key in ("truncated_rate", "shortened_rate", "placeholder_rate",
                "unsupported_claim_rate", "fact_coverage"):
        assert 0 <= report[key] <= 1, key
    # The seeded wrong facts (English and Chinese) are caught, and little else is.
    assert report["claim_recall"] >= 0.9 and report["claim_precision"] >= 0.8
    assert 0 < report["check_ms_per_draft"] < 1000
