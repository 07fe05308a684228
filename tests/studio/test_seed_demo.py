"""The demo data: a house-style project whose first retrain starts on the first run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from studio.management.commands.seed_demo import HOUSE_PRODUCTS, HOUSE_PROJECT
from studio.models import Project, Review, TrainingExample, TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_seeds_a_house_style_project_and_starts_its_retrain_once(
    settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    settings.DATASET_DIR = tmp_path / "datasets"
    settings.ADAPTER_DIR = tmp_path / "adapters"
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    project = Project.objects.get(name=HOUSE_PROJECT["name"])
    assert project.auto_promote
    # Every approval went through the review service as an editor's rewrite.
    assert Review.objects.filter(draft__project=project,
                                 action="approve_edited").count() == len(HOUSE_PRODUCTS)
    finals = TrainingExample.objects.filter(project=project, kind="sft")
    assert finals.count() == len(HOUSE_PRODUCTS)
    assert all(t.startswith("Ahoy from Harbor Lane!") for t in
               finals.values_list("completion", flat=True))
    job = TrainingJob.objects.get(project=project)
    assert job.status == "queued" and job.snapshot is not None
    # Enough held-out briefs for the gate to judge (it needs 3).
    assert job.snapshot.counts["sft_eval"] >= 3
    assert f"job #{job.pk}" in out.getvalue()

    call_command("seed_demo", stdout=io.StringIO())
    assert TrainingJob.objects.filter(project=project).count() == 1
    assert Project.objects.filter(name=HOUSE_PROJECT["name"]).count() == 1
