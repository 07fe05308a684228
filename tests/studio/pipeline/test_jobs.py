"""The job services and the task code, run in this process on a tiny real model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from studio.celery import app
from studio.models import Brief, Draft, GenerationJob, PreferenceNote, TrainingExample
from studio.services import generation as jobs
from studio.services.briefs import brief_create
from studio.services.reviews import review_approve
from studio.tasks.generation import generate_job
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_project(world: World, tiny_model_dir: Path, settings: Any) -> World:
    settings.GENERATION_MAX_NEW_TOKENS = 12
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    return world


def _brief(world: World, **over: Any) -> Brief:
    data = {"kind": "article", "title": "Light roasts", "instructions": "Say why.",
            "variants": 3, **over}
    return brief_create(user=world.marketer, project_id=world.project.pk, data=data)


def _run(job: GenerationJob) -> Any:
    return generate_job.apply(args=[job.pk], task_id=f"t-{job.pk}").get()


def test_it_writes_every_variant_with_its_prompt_and_flags(tiny_project: World) -> None:
    brief = _brief(tiny_project)
    job = brief.jobs.get()
    assert job.status == "queued"
    assert _run(job).startswith("wrote 3 drafts")
    job.refresh_from_db()
    brief.refresh_from_db()
    assert (job.status, brief.status, job.progress_done, job.attempts) == (
        "succeeded", "in_review", 3, 1)
    drafts = list(Draft.objects.filter(job=job).order_by("variant"))
    assert [d.variant for d in drafts] == [0, 1, 2]
    for d in drafts:
        assert d.text == d.current_text
        assert "Light roasts" in d.prompt
        assert "Use short sentences." in d.prompt  # the project's style rule
        assert d.params["max_new_tokens"] <= 12
        assert d.completion_tokens <= 12
        assert isinstance(d.flags, list)
        assert d.flag_codes == sorted({f["code"] for f in d.flags})
    assert job.timings["total_s"] > 0
    # The plain turns the prompt was rendered from are kept, and an approval trains on them.
    messages = drafts[0].params["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Use short sentences." in messages[0]["content"]
    assert "Light roasts" in messages[1]["content"] and "<|im_start|>" not in str(messages)
    review_approve(user=tiny_project.editor, draft_id=drafts[0].pk, version=drafts[0].version)
    assert TrainingExample.objects.get(source_review__draft=drafts[0]).prompt == messages


def test_an_accepted_preference_note_reaches_the_next_jobs_prompt(tiny_project: World) -> None:
    PreferenceNote.objects.create(project=tiny_project.project, kind="replace",
                                  proposed_before="world-class", proposed_after="careful",
                                  before="world-class", after="careful", status="accepted")
    job = _brief(tiny_project, variants=1).jobs.get()
    _run(job)
    draft = Draft.objects.get(job=job)
    assert "Write “careful” instead of “world-class”." in draft.prompt
    assert "- “world-class”" in draft.params["messages"][0]["content"]


def test_it_does_nothing_on_a_second_delivery(tiny_project: World) -> None:
    job = _brief(tiny_project).jobs.get()
    _run(job)
    assert _run(job) == "nothing to do"
    assert Draft.objects.filter(job=job).count() == 3


def test_it_reproduces_drafts_from_the_job_seed(tiny_project: World) -> None:
    brief = _brief(tiny_project, variants=2)
    first = brief.jobs.get()
    _run(first)
    again = GenerationJob.objects.create(
        brief=brief, base_model=first.base_model, requested_by=first.requested_by,
        variants=2, seed=first.seed)
    _run(again)
    texts = lambda j: list(Draft.objects.filter(job=j).order_by("variant")  # noqa: E731
                           .values_list("text", flat=True))
    assert texts(first) == texts(again)


def test_waiting_jobs_join_the_running_batch_up_to_its_job_cap(
    tiny_project: World, settings: Any
) -> None:
    """Continuous batching: the task writes its job and takes the others waiting on the
    same model into its batch, at most GENERATION_MICRO_BATCH at once (the fifth joins
    when one leaves); their own messages then find nothing to do."""
    settings.GENERATION_MICRO_BATCH = 4
    briefs = [_brief(tiny_project, variants=1, title=f"Brief {i}") for i in range(5)]
    first = briefs[0].jobs.get()
    assert _run(first) == "wrote 5 drafts for 5 jobs"
    assert [b.jobs.get().status for b in briefs] == ["succeeded"] * 5
    assert _run(briefs[1].jobs.get()) == "nothing to do"


def test_it_never_sends_a_job_whose_transaction_rolled_back(tiny_project: World) -> None:
    sent: list[Any] = []
    before = GenerationJob.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        _brief(tiny_project)
        sent.extend(transaction.get_connection().run_on_commit)
        raise RuntimeError("rolled back")
    assert sent, "the send is registered on commit"
    assert GenerationJob.objects.count() == before


def test_it_fails_a_bad_request_at_once_with_the_error_on_the_job(
    tiny_project: World,
) -> None:
    brief = _brief(tiny_project, variants=1)
    # A project rule edited into an impossible prompt: instructions that cannot fit.
    Brief.objects.filter(pk=brief.pk).update(instructions="word " * 20000)
    job = brief.jobs.get()
    assert _run(job) == "failed"
    job.refresh_from_db()
    brief.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1
    assert "PromptTooLongError" in job.error and job.failure == "brief"
    assert brief.status == "failed"


def test_it_gives_up_on_a_job_that_killed_its_worker_too_often(
    tiny_project: World, settings: Any
) -> None:
    job = _brief(tiny_project).jobs.get()
    long_ago = timezone.now() - timedelta(hours=1)
    GenerationJob.objects.filter(pk=job.pk).update(
        status="running", attempts=settings.GENERATION_MAX_ATTEMPTS, heartbeat_at=long_ago)
    assert _run(job) == "nothing to do"
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == ("Gave up after 3 attempts: the worker stopped each time while "
                         "writing (crash, out of memory or time limit).")
    assert job.failure == "gave_up"
    assert job.brief.status == "failed"


def test_it_gives_up_reporting_the_last_real_error_of_its_attempts(
    tiny_project: World, settings: Any
) -> None:
    """Issue #11: a job ended as "the worker stopped each time" while its attempts had
    failed with a real error; the error of each attempt is kept and reported."""
    job = _brief(tiny_project).jobs.get()
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_STUCK_AFTER + 5)
    first = jobs.job_claim(job_id=job.pk, worker="w1")
    assert first is not None
    assert jobs.job_release(claim=first, error="ValueError: The version of PEFT you are "
                            "using is not compatible, please use a version >= 0.99")
    for attempt in (2, 3):  # both killed mid-job: no error recorded, the heartbeat stops
        assert jobs.job_claim(job_id=job.pk, worker=f"w{attempt}") is not None
        GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert jobs.job_claim(job_id=job.pk, worker="w4") is None

    job.refresh_from_db()
    assert (job.status, job.failure) == ("failed", "gave_up")
    assert job.error == (
        "Gave up after 3 attempts. Last error (attempt 1): ValueError: The version of PEFT "
        "you are using is not compatible, please use a version >= 0.99 Attempts 2–3 stopped "
        "without an error (crash, out of memory or time limit).")
    assert job.attempt_errors == [{"attempt": 1, "error": "ValueError: The version of PEFT "
                                   "you are using is not compatible, please use a version "
                                   ">= 0.99"}]


@pytest.mark.parametrize(("errors", "said"), [
    ([{"attempt": 3, "error": "RuntimeError: boom"}],
     "Gave up after 3 attempts. Last error (attempt 3): RuntimeError: boom"),
    ([{"attempt": 1, "error": "A"}, {"attempt": 2, "error": "B"}],
     "Gave up after 3 attempts. Last error (attempt 2): B Attempt 3 stopped without an "
     "error (crash, out of memory or time limit)."),
])
def test_it_names_the_attempts_that_stopped_after_the_last_error(
    errors: list[dict[str, Any]], said: str
) -> None:
    assert jobs.gave_up_message(3, errors) == said


def test_it_takes_over_a_job_whose_worker_stopped_beating(tiny_project: World) -> None:
    job = _brief(tiny_project).jobs.get()
    dead = jobs.job_claim(job_id=job.pk, worker="dead-worker")
    assert dead is not None
    assert jobs.job_claim(job_id=job.pk, worker="other") is None  # still alive
    GenerationJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1))
    assert _run(job).startswith("wrote 3 drafts")
    # The dead worker wakes up and tries to save its drafts: refused, nothing doubled.
    assert not jobs.job_complete(claim=dead, prompt="p", drafts=[], timings={})
    assert Draft.objects.filter(job=job).count() == 3


def test_it_reconciles_unsent_and_stalled_jobs(tiny_project: World, monkeypatch: Any) -> None:
    published: list[int] = []
    monkeypatch.setattr(generate_job, "apply_async",
                        lambda args, **kw: published.append(args[0]))
    unsent = _brief(tiny_project).jobs.get()
    GenerationJob.objects.filter(pk=unsent.pk).update(sent_at=None)
    stalled = _brief(tiny_project).jobs.get()
    GenerationJob.objects.filter(pk=stalled.pk).update(
        status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    fresh = _brief(tiny_project).jobs.get()
    GenerationJob.objects.filter(pk=fresh.pk).update(sent_at=timezone.now())
    published.clear()
    assert sorted(jobs.jobs_reconcile()) == sorted([unsent.pk, stalled.pk])
    assert sorted(published) == sorted([unsent.pk, stalled.pk])


def test_it_configures_celery_for_reliable_generation(settings: Any) -> None:
    conf = app.conf
    longest = max(settings.GENERATION_TASK_TIME_LIMIT, settings.TRAINING_TASK_TIME_LIMIT)
    assert conf.broker_transport_options["visibility_timeout"] > longest
    assert conf.broker_transport_options["visibility_timeout"] > 60  # max retry countdown
    assert generate_job.acks_late and generate_job.reject_on_worker_lost
    assert generate_job.time_limit == settings.GENERATION_TASK_TIME_LIMIT
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.worker_prefetch_multiplier == 1
    route = app.amqp.router.route({}, "studio.tasks.generation.generate_job")
    assert route["queue"].name == "generate"
    assert set(app.amqp.queues) == {"generate", "train", "default"}
    assert "reconcile-generation-jobs" in conf.beat_schedule


def test_it_stores_model_output_with_nul_bytes(tiny_project: World) -> None:
    job = _brief(tiny_project, variants=1).jobs.get()
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    draft = {"variant": 0, "text": "bad\x00byte", "seed": 1, "params": {},
             "prompt_tokens": 1, "completion_tokens": 2, "flags": []}
    assert jobs.job_complete(claim=claim, prompt="p", drafts=[draft], timings={})
    assert Draft.objects.get(job=job).text == "bad\ufffdbyte"


@pytest.mark.parametrize("bad_one_leads", [True, False])
def test_a_bad_adapter_fails_only_its_own_job_in_a_batch_shared_with_another_team(
    tiny_project: World, tiny_model_dir: Path, settings: Any, tmp_path: Path,
    bad_one_leads: bool,
) -> None:
    import json

    from generation.adapters import adapter_sha256
    from generation.testing import build_tiny_adapter
    from tests.factories import ModelVersionFactory

    settings.GENERATION_MICRO_BATCH = 4
    world = tiny_project
    # Another team's project on the same base model; its live adapter's config was
    # changed on disk after it was recorded.
    other = world.other_project
    other.base_model = world.project.base_model
    folder = build_tiny_adapter(tiny_model_dir, tmp_path / "their-adapter")
    other.live_model = ModelVersionFactory(
        project=other, number=7, status="live", base_model=other.base_model,
        adapter_path=str(folder), adapter_sha256=adapter_sha256(folder))
    other.save()
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "lora_alpha": 64}))

    ours = _brief(world, variants=2).jobs.get()
    theirs = brief_create(user=world.outsider, project_id=other.pk, data={
        "kind": "article", "title": "Their brief", "instructions": "Say why.",
        "variants": 1}).jobs.get()
    assert ours.base_model == theirs.base_model  # so they share a micro-batch
    result = _run(theirs if bad_one_leads else ours)

    assert result == "wrote 2 drafts for 1 jobs"
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, ours.error, ours.attempts) == ("succeeded", "", 1)
    assert Draft.objects.filter(job=ours).count() == 2
    assert theirs.status == "failed" and "AdapterChecksumError" in theirs.error
    assert theirs.failure == "model"
    assert not Draft.objects.filter(job=theirs).exists()
    assert str(folder) not in Brief.objects.get(pk=ours.brief_id).jobs.get().error


def test_it_flags_a_draft_that_copies_an_approved_text_older_than_the_newest_200(
    tiny_project: World, settings: Any
) -> None:
    from studio.models import Draft as DraftModel
    from tests.factories import BriefFactory, GenerationJobFactory

    settings.GENERATION_MAX_NEW_TOKENS = 160
    world = tiny_project
    brief = _brief(world, variants=1)
    first = brief.jobs.get()
    GenerationJob.objects.filter(pk=first.pk).update(seed=7)
    first.refresh_from_db()
    _run(first)
    copied = Draft.objects.get(job=first).text
    assert len(copied.split()) >= 12, copied  # long enough to count as a near-copy
    # The same text approved a year ago, then 250 newer approvals. They are news, so none
    # is a few-shot example of this article brief: the prompt stays the same.
    news = GenerationJobFactory(brief=BriefFactory(project=world.project, kind="news",
                                                   author=world.marketer))
    now = timezone.now()
    DraftModel.objects.bulk_create([
        DraftModel(job=news, project=world.project, variant=i, text=text, current_text=text,
                   prompt="p", seed=1, status="approved", decided_at=decided)
        for i, (text, decided) in enumerate(
            [(copied, now - timedelta(days=365))]
            + [(f"Newer approved text number {i} about a light roast and its notes.",
                now - timedelta(minutes=i)) for i in range(250)])
    ])
    again = GenerationJob.objects.create(
        brief=brief, base_model=first.base_model, requested_by=first.requested_by,
        variants=1, seed=first.seed)
    _run(again)
    draft = Draft.objects.get(job=again)
    assert draft.text == copied
    assert "near_copy" in draft.flag_codes, draft.flags


def test_a_chinese_project_writes_through_the_tiny_model_end_to_end(
    tiny_project: World, settings: Any
) -> None:
    from generation.checks import NEAR_IDENTICAL, check_draft
    from generation.prompts import default_target, max_new_tokens_for

    settings.GENERATION_MAX_NEW_TOKENS = 64
    project = tiny_project.project
    project.language = "zh-hans"
    project.brand_voice = "温暖、简洁。"
    project.banned_terms = "最便宜，保证"
    project.save()
    brief = _brief(tiny_project, title="秋季新品咖啡", instructions="写给忙碌的父母。",
                   keywords=["咖啡", "早晨"], variants=2)
    assert brief.target_words is None  # the kind's default, in characters
    assert _run(brief.jobs.get()).startswith("wrote 2 drafts")
    drafts = list(Draft.objects.filter(job__brief=brief).order_by("variant"))
    assert len(drafts) == 2
    target = default_target("article", "zh-hans")
    for d in drafts:
        assert "请写一篇约" in d.prompt and "“秋季新品咖啡”" in d.prompt
        assert "品牌语气：温暖、简洁。" in d.prompt and "不得使用以下词语：最便宜、保证。" in d.prompt
        assert "请包含以下关键词：咖啡、早晨" in d.prompt
        assert d.params["max_new_tokens"] == min(
            64, max_new_tokens_for(target, language="zh-hans"))
        # The checks ran for Chinese (the random model writes noise, so compare with
        # what the Chinese checks say about it).
        expected = check_draft(d.text, finish_reason=d.params["finish_reason"],
                               banned_terms=project.banned_term_list,
                               must_not=project.must_not_rules, language="zh-hans")
        stored = [(f["code"], f["message"]) for f in d.flags if f["code"] != NEAR_IDENTICAL]
        assert stored == [(f.code, f.message) for f in expected]
    noise = "The tiny model writes noise like this in Latin letters, never Chinese text."
    assert "Simplified Chinese" in check_draft(noise, language="zh-hans")[0].message
