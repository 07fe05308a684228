"""The texts a job's drafts are checked against for near-copies (job_inputs), and the cost
of checking against them."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from studio.models import DatasetSnapshot, Draft, GenerationJob, TrainingExample
from studio.services.generation import job_inputs
from tests.conftest import World
from tests.factories import BriefFactory, GenerationJobFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db


def _approve(job: GenerationJob, texts: list[str], *, start: int = 0,
             newest: Any = None) -> None:
    """Approved drafts of ``job``, the first text the newest, a minute apart."""
    newest = newest or timezone.now()
    Draft.objects.bulk_create([
        Draft(job=job, project=job.brief.project, variant=start + i, text=t, current_text=t,
              prompt="p", seed=1, status="approved", decided_at=newest - timedelta(minutes=i))
        for i, t in enumerate(texts)
    ])


def _examples(world: World, texts: list[str], *, excluded: bool = False) -> None:
    TrainingExample.objects.bulk_create([
        TrainingExample(project=world.project, kind="sft", content_kind="news",
                        prompt=[{"role": "user", "content": "Write."}], completion=t,
                        excluded=excluded)
        for t in texts
    ])


def _job(world: World, kind: str = "article", **kw: Any) -> GenerationJob:
    return GenerationJobFactory(
        brief=BriefFactory(project=world.project, kind=kind, author=world.marketer),
        status="queued", **kw)


def test_it_takes_the_prompt_examples_then_the_models_training_texts_then_approvals(
    world: World, settings: Any
) -> None:
    # What the live model was trained on: its snapshot's examples, one excluded since
    # (the model learnt it all the same).
    _examples(world, ["Trained on: the roast notes."])
    _examples(world, ["Trained on, excluded since: a customer's story."], excluded=True)
    _examples(world, ["Excluded before the snapshot: never trained on."], excluded=True)
    trained = TrainingExample.objects.filter(completion__startswith="Trained on")
    snapshot = DatasetSnapshot.objects.create(
        project=world.project, content_hash="h" * 64, path="unused",
        example_ids=sorted(trained.values_list("pk", flat=True)))
    _examples(world, ["An example added after the snapshot."])
    version = ModelVersionFactory(project=world.project, number=50, status="live",
                                  snapshot=snapshot)
    news = _job(world, "news")
    _approve(news, ["Approved news, newest.", "Approved news, older."])
    article = _job(world, "article")
    _approve(article, ["An approved article: a few-shot example."], start=10,
             newest=timezone.now() - timedelta(days=30))
    # Another project's and another team's approvals never come in.
    other = GenerationJobFactory(brief=BriefFactory(project=world.other_project))
    _approve(other, ["Another team's approved text."])

    reference = job_inputs(job_id=_job(world, model_version=version).pk)["reference_corpus"]
    assert reference == [
        "An approved article: a few-shot example.",
        "Trained on, excluded since: a customer's story.",
        "Trained on: the roast notes.",
        "Approved news, newest.",
        "Approved news, older.",
    ]

    # Within the budget: the first texts that fit, each once.
    settings.GENERATION_REFERENCE_CHARS = len("".join(reference[:3])) + 5
    capped = job_inputs(job_id=_job(world, model_version=version).pk)["reference_corpus"]
    assert capped == reference[:3]
    settings.GENERATION_REFERENCE_CHARS = 10_000

    # A snapshot from before the ids were kept: the examples there were when it was frozen.
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(example_ids=None)
    TrainingExample.objects.filter(completion__startswith="An example added").update(
        created_at=snapshot.created_at + timedelta(seconds=1))
    legacy = job_inputs(job_id=_job(world, model_version=version).pk)["reference_corpus"]
    assert legacy == [*reference[:1], "Excluded before the snapshot: never trained on.",
                      *reference[1:]]


def test_it_checks_more_than_the_200_newest_approvals(world: World) -> None:
    job = _job(world, "news")
    _approve(job, [f"Approved text {i}: notes of cherry and cocoa." for i in range(1000)])
    reference = job_inputs(job_id=_job(world).pk)["reference_corpus"]
    assert len(reference) == 1000
    assert reference[-1] == "Approved text 999: notes of cherry and cocoa."


def test_it_measures_the_near_copy_check_on_5000_approved_texts(
    world: World, settings: Any
) -> None:
    import random

    from generation.checks import ReferenceCorpus

    rng = random.Random(5)
    words = [f"word{i}" for i in range(5000)] + ["the", "a", "of", "roast", "bean", "cup"] * 50
    texts = [" ".join(rng.choice(words) for _ in range(150)) + "." for _ in range(5000)]
    _approve(_job(world, "news"), texts)
    draft = " ".join(rng.choice(words) for _ in range(300)) + " " + texts[50][:300]

    def measure(budget: int) -> tuple[int, int, float, float]:
        settings.GENERATION_REFERENCE_CHARS = budget
        started = time.perf_counter()
        reference = job_inputs(job_id=_job(world).pk)["reference_corpus"]
        read = time.perf_counter() - started
        started = time.perf_counter()
        flags = ReferenceCorpus(reference).check(draft)
        checked = time.perf_counter() - started
        assert [f.code for f in flags] == ["near_copy"]  # text 50 is among the newest
        print(f"\nbudget {budget:>10,} chars: {len(reference):>5} texts, "
              f"{sum(map(len, reference)):>10,} chars; read {read:.2f} s, "
              f"index + check {checked:.2f} s")
        return len(reference), sum(map(len, reference)), read, checked

    budget = settings.GENERATION_REFERENCE_CHARS
    everything = measure(10**9)
    assert everything[0] == 5000
    default = measure(budget)
    assert default[1] <= budget and default[0] < 5000
