"""Generation you can watch: partial text in Redis, cancel, teams in turn, badges.

Real PostgreSQL rows, the real Redis at CELERY_BROKER_URL and, for the worker side, the
real task code in this process on the tiny random model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from studio import live
from studio.models import Brief, Draft, GenerationJob
from studio.selectors.generation import job_live, job_queue_position
from studio.services import generation as jobs
from studio.services.briefs import brief_create, brief_regenerate
from studio.services.errors import Busy, WrongState
from studio.tasks.generation import BatchRun, engine_for, generation_run
from tests.conftest import World
from tests.factories import BriefFactory, GenerationJobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_project(world: World, tiny_model_dir: Path, settings: Any) -> World:
    settings.GENERATION_MAX_NEW_TOKENS = 12
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    world.other_project.base_model = f"local:{tiny_model_dir}"
    world.other_project.save()
    return world


def _brief(world: World, project: Any = None, **over: Any) -> Brief:
    project = project or world.project
    user = world.marketer if project == world.project else world.outsider
    data = {"kind": "article", "title": "Light roasts", "instructions": "Say why.",
            "variants": 2, **over}
    return brief_create(user=user, project_id=project.pk, data=data)


def _queued(world: World, project: Any, n: int) -> list[GenerationJob]:
    return [_brief(world, project, title=f"Backlog {i}").jobs.get() for i in range(n)]


# -- teams in turn ---------------------------------------------------------------------


def test_a_teams_backlog_does_not_starve_another_teams_single_brief(tiny_project: World) -> None:
    backlog = _queued(tiny_project, tiny_project.project, 6)
    single = _brief(tiny_project, tiny_project.other_project).jobs.get()
    base = backlog[0].base_model
    # Before anyone is served the oldest job goes first, then the other team's.
    assert job_queue_position(job=backlog[0]) == 1
    assert job_queue_position(job=single) == 2
    assert job_queue_position(job=backlog[1]) == 3
    taken = [jobs.job_claim_next(worker="w", base_model=base, room=99) for _ in range(3)]
    assert [c.job_id for c in taken if c] == [backlog[0].pk, single.pk, backlog[1].pk]
    # A second brief of team B goes next (team A was served last), not after A's backlog.
    late = _brief(tiny_project, tiny_project.other_project, title="Second").jobs.get()
    assert job_queue_position(job=late) == 1
    assert job_queue_position(job=backlog[5]) == 5
    nxt = [jobs.job_claim_next(worker="w", base_model=base, room=99) for _ in range(2)]
    assert [c.job_id for c in nxt if c] == [late.pk, backlog[2].pk]


def test_a_job_too_big_for_the_room_left_waits_instead_of_being_skipped(
    tiny_project: World,
) -> None:
    big = _brief(tiny_project, variants=4).jobs.get()
    _brief(tiny_project, variants=1)
    assert jobs.job_claim_next(worker="w", base_model=big.base_model, room=3) is None
    claim = jobs.job_claim_next(worker="w", base_model=big.base_model, room=4)
    assert claim is not None and claim.job_id == big.pk


def test_the_brief_page_shows_the_queue_position(tiny_project: World, client: Any) -> None:
    _queued(tiny_project, tiny_project.project, 3)
    mine = _brief(tiny_project, tiny_project.other_project)
    GenerationJob.objects.filter(brief=mine).update(sent_at=mine.created_at)
    client.force_login(tiny_project.outsider)
    page = client.get(reverse("brief_status", args=[mine.pk]), HTTP_HX_REQUEST="true")
    assert "Number 2 in the queue" in page.content.decode()


# -- partial text ----------------------------------------------------------------------


def test_the_worker_publishes_partial_text_and_clears_it_when_drafts_land(
    tiny_project: World, client: Any, settings: Any
) -> None:
    settings.GENERATION_MAX_NEW_TOKENS = 40
    brief = _brief(tiny_project, variants=2)
    job = brief.jobs.get()
    seen: list[dict[str, Any]] = []
    pages: list[str] = []
    client.force_login(tiny_project.editor)  # editors watch the run too

    def observe(event: str, job_id: int) -> None:
        if event == "text":
            seen.append(live.partial_read(job_id))
            pages.append(client.get(reverse("brief_status", args=[brief.pk]),
                                    HTTP_HX_REQUEST="true").content.decode())

    claim = jobs.job_claim(job_id=job.pk, worker="test")
    assert claim is not None
    assert generation_run(claim=claim, worker="test", observer=observe).startswith("wrote 2")
    [partial] = seen
    assert [v["variant"] for v in partial["variants"]] == [0, 1]
    assert all(v["tokens"] >= 1 and v["max"] == 40 for v in partial["variants"])
    assert 'class="draft-text prewrap live-text"' in pages[0], pages[0][:3000]
    assert "Writing…" in pages[0]
    assert "data-elapsed" in pages[0]
    # Never a draft while writing; gone from Redis once the drafts are rows.
    assert live.partial_read(job.pk) == {}
    assert Draft.objects.filter(job=job).count() == 2


def test_partial_text_is_shown_escaped(world: World, client: Any) -> None:
    job = world.job
    GenerationJob.objects.filter(pk=job.pk).update(status="running", started_at=job.created_at)
    live.partial_write(job.pk, [{"variant": 0, "text": "<script>alert(1)</script><b hx-get=/x>",
                                 "tokens": 3, "max": 10}], seconds=1.5)
    try:
        client.force_login(world.marketer)
        body = client.get(reverse("brief_status", args=[world.brief.pk]),
                          HTTP_HX_REQUEST="true").content.decode()
        assert "<script>alert(1)" not in body and "<b hx-get" not in body, body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "at most about 4 s left" in body  # 7 tokens left at 3 tokens per 1.5 s: 3.5 s
    finally:
        live.partial_clear(job.pk)


def test_another_teams_job_stream_is_404(world: World, client: Any) -> None:
    job = GenerationJobFactory(brief=BriefFactory(project=world.other_project),
                               status="running")
    live.partial_write(job.pk, [{"variant": 0, "text": "Beta secret", "tokens": 1, "max": 9}],
                       seconds=1)
    try:
        client.force_login(world.marketer)
        answer = client.get(reverse("api:generation-job-live", args=[job.pk]))
        assert answer.status_code == 404 and b"Beta secret" not in answer.content
        client.force_login(world.outsider)
        mine = client.get(reverse("api:generation-job-live", args=[job.pk])).json()
        assert mine["variants"][0]["text"] == "Beta secret"
    finally:
        live.partial_clear(job.pk)


# -- cancel and regenerate -------------------------------------------------------------


def test_cancel_stops_only_that_job_at_the_next_step(
    tiny_project: World, settings: Any
) -> None:
    settings.GENERATION_MAX_NEW_TOKENS = 40
    keep = _brief(tiny_project, variants=1, title="Keep").jobs.get()
    stop = _brief(tiny_project, tiny_project.other_project, variants=2, title="Stop").jobs.get()
    claim = jobs.job_claim(job_id=keep.pk, worker="test")
    assert claim is not None
    inputs = jobs.job_inputs(job_id=keep.pk)
    run = BatchRun(engine=engine_for(inputs["base_model"]), base_model=inputs["base_model"],
                   worker="test")
    cancelled_at: list[int] = []

    def observe(event: str, job_id: int) -> None:
        if event == "text" and job_id == stop.pk and not cancelled_at:
            jobs.job_cancel(user=tiny_project.outsider, job_id=stop.pk)
            cancelled_at.append(len(run.running))

    run.observer = observe
    assert run.run(claim, inputs) == "wrote 1 drafts for 1 jobs"
    assert cancelled_at == [2]  # both were in the batch when it was cancelled
    stop.refresh_from_db()
    keep.refresh_from_db()
    assert (stop.status, stop.cancelled_by) == ("cancelled", tiny_project.outsider)
    assert not Draft.objects.filter(job=stop).exists()
    assert stop.brief.status == "cancelled" and live.partial_read(stop.pk) == {}
    assert keep.status == "succeeded" and Draft.objects.filter(job=keep).count() == 1


def test_cancel_of_a_finished_job_is_refused_and_changes_nothing(world: World) -> None:
    with pytest.raises(WrongState, match="already ended"):
        jobs.job_cancel(user=world.marketer, job_id=world.job.pk)
    world.job.refresh_from_db()
    assert world.job.status == "succeeded"


def test_a_cancel_racing_the_drafts_save_loses_cleanly(world: World) -> None:
    brief = BriefFactory(project=world.project, author=world.marketer, variants=1)
    job = GenerationJobFactory(brief=brief, status="queued", variants=1)
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    draft = {"variant": 0, "text": "Done.", "seed": 1, "params": {}, "prompt_tokens": 1,
             "completion_tokens": 1, "flags": []}
    assert jobs.job_complete(claim=claim, prompt="p", drafts=[draft], timings={})
    with pytest.raises(WrongState):
        jobs.job_cancel(user=world.marketer, job_id=job.pk)
    # The other order: the cancel wins and the worker's save is refused.
    job2 = GenerationJobFactory(brief=brief, status="queued", variants=1)
    claim2 = jobs.job_claim(job_id=job2.pk, worker="w")
    assert claim2 is not None
    jobs.job_cancel(user=world.marketer, job_id=job2.pk)
    assert not jobs.job_complete(claim=claim2, prompt="p", drafts=[draft], timings={})
    assert Draft.objects.filter(job__brief=brief).count() == 1
    brief.refresh_from_db()
    assert brief.status == "in_review"  # the first run's draft is still there


def test_the_api_cancels_a_queued_job_and_refuses_a_finished_one(
    world: World, client: Any
) -> None:
    job = GenerationJobFactory(brief=world.brief, status="queued")
    client.force_login(world.marketer)
    url = reverse("api:generation-job-cancel", args=[job.pk])
    answer = client.post(url, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "cancelled"
    again = client.post(url, content_type="application/json")
    assert again.status_code == 409 and "already ended" in again.json()["detail"]
    client.force_login(world.outsider)
    assert client.post(url, content_type="application/json").status_code == 404


def test_regenerate_during_a_run_asks_then_replaces_it(world: World, client: Any) -> None:
    running = GenerationJobFactory(brief=world.brief, status="running")
    with pytest.raises(Busy, match="Cancel that run"):
        brief_regenerate(user=world.marketer, brief_id=world.brief.pk)
    client.force_login(world.marketer)
    page = client.get(reverse("brief_detail", args=[world.brief.pk])).content.decode()
    assert 'hx-confirm="A run is still writing this brief. Cancel it and start again?"' in page
    # Without the confirmed "replace" the run stays and the block says why.
    said = client.post(reverse("brief_regenerate", args=[world.brief.pk]),
                       HTTP_HX_REQUEST="true").content.decode()
    assert "already being written" in said
    running.refresh_from_db()
    assert running.status == "running"
    client.post(reverse("brief_regenerate", args=[world.brief.pk]), {"replace": "1"},
                HTTP_HX_REQUEST="true")
    running.refresh_from_db()
    assert running.status == "cancelled"
    assert world.brief.jobs.active().get().status == "queued"


def test_the_badge_follows_the_job_when_its_drafts_are_ready(world: World, client: Any) -> None:
    """The header badge said "Generating" after the drafts were ready: it was rendered
    once with the page; every poll now sends it out of band."""
    brief = BriefFactory(project=world.project, author=world.marketer, variants=1,
                         status="generating")
    job = GenerationJobFactory(brief=brief, status="queued", variants=1)
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    jobs.job_complete(claim=claim, prompt="p", timings={}, drafts=[{
        "variant": 0, "text": "Done.", "seed": 1, "params": {}, "prompt_tokens": 1,
        "completion_tokens": 1, "flags": []}])
    client.force_login(world.marketer)
    body = client.get(reverse("brief_status", args=[brief.pk]),
                      HTTP_HX_REQUEST="true").content.decode()
    assert f'id="brief-badge-{brief.pk}" hx-swap-oob="true"' in body
    assert "In review" in body and "Generating" not in body


def test_a_failed_regenerate_puts_a_reviewed_brief_back_in_review(world: World) -> None:
    """A run failing after earlier drafts left the brief "Generating" forever."""
    job = GenerationJobFactory(brief=world.brief, status="queued")
    Brief.objects.filter(pk=world.brief.pk).update(status="queued")
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    world.brief.refresh_from_db()
    assert world.brief.status == "generating"
    jobs.job_fail(job_id=job.pk, token=claim.token, error="RuntimeError: boom")
    world.brief.refresh_from_db()
    assert world.brief.status == "in_review"


def test_job_live_is_none_once_a_job_has_ended(world: World) -> None:
    assert job_live(job=world.job) is None
