"""Assignment (by hand, whole briefs, round-robin), my queue / unassigned, presence."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from studio.models import AuditEvent, Draft, GenerationJob, Role
from studio.services import generation as jobs
from studio.services import presence
from tests.conftest import World
from tests.factories import (
    BriefFactory,
    DraftFactory,
    GenerationJobFactory,
    MembershipFactory,
    UserFactory,
)


def _api(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _queue_ids(client: Client, **params: str) -> set[int]:
    body = client.get(reverse("review_queue"), params).content.decode()
    return {int(part.split('"')[0]) for part in body.split('id="row-')[1:]}


def test_an_admin_assigns_a_draft_and_it_moves_to_the_editors_queue(
    client: Client, world: World
) -> None:
    other = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.project)),
                         variant=0)
    response = _api(world.admin).post(f"/api/drafts/{world.draft.pk}/assign/",
                                      {"assignee": world.editor.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["assigned_to"] == world.editor.username
    assert AuditEvent.objects.filter(verb="draft.assign", object_id=str(world.draft.pk)).exists()

    client.force_login(world.editor)
    assert _queue_ids(client, assigned="me") == {world.draft.pk}
    assert _queue_ids(client, assigned="none") == {other.pk}
    assert _queue_ids(client) == {world.draft.pk, other.pk}
    body = client.get(reverse("review_queue"), {"assigned": "me"}).content.decode()
    assert 'aria-current="page" id="view-me"' in body and "for you" in body


def test_editors_take_drafts_for_themselves_only(world: World) -> None:
    second = MembershipFactory(team=world.team, role=Role.EDITOR,
                               user=UserFactory(username="ana")).user
    url = f"/api/drafts/{world.draft.pk}/assign/"
    # Give it to someone else: only an admin may.
    assert _api(world.editor).post(url, {"assignee": second.pk}, format="json").status_code == 403
    assert _api(world.editor).post(url, {"assignee": world.editor.pk},
                                   format="json").status_code == 200
    # Now it is the editor's: Ana may not take it from them, nor unassign it.
    assert _api(second).post(url, {"assignee": second.pk}, format="json").status_code == 403
    assert _api(second).post(url, {"assignee": None}, format="json").status_code == 403
    assert _api(world.editor).post(url, {"assignee": None}, format="json").status_code == 200
    world.draft.refresh_from_db()
    assert world.draft.assigned_to is None


@pytest.mark.parametrize(("who", "assignee", "code"), [
    ("marketer", "marketer", 403),
    ("outsider", "outsider", 404),
    ("admin", "marketer", 400),   # a marketer cannot review
    ("admin", "outsider", 400),   # another team's user
])
def test_it_refuses_assignments_outside_the_rules(
    world: World, who: str, assignee: str, code: int
) -> None:
    response = _api(world.user(who)).post(f"/api/drafts/{world.draft.pk}/assign/",
                                          {"assignee": world.user(assignee).pk}, format="json")
    assert response.status_code == code
    world.draft.refresh_from_db()
    assert world.draft.assigned_to is None


def test_it_refuses_extra_fields_and_bad_ids(world: World) -> None:
    api = _api(world.admin)
    url = f"/api/drafts/{world.draft.pk}/assign/"
    assert api.post(url, {"assignee": world.editor.pk, "status": "approved"},
                    format="json").status_code == 400
    assert api.post(url, {"assignee": "x"}, format="json").status_code == 400
    assert api.post(url, {"assignee": 10**9}, format="json").status_code == 400


def _complete(job: GenerationJob, n: int) -> list[Draft]:
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    drafts = [{"variant": i, "text": f"Draft {i}", "seed": 1, "params": {}, "prompt_tokens": 1,
               "completion_tokens": 2, "flags": []} for i in range(n)]
    assert jobs.job_complete(claim=claim, prompt="p", drafts=drafts, timings={})
    return list(job.drafts.all())


def test_a_brief_assigned_keeps_its_editor_for_later_runs(world: World) -> None:
    response = _api(world.admin).post(f"/api/briefs/{world.brief.pk}/assign/",
                                      {"assignee": world.editor.pk}, format="json")
    assert response.status_code == 200 and response.json()["assigned_to"] == "editor-a"
    world.draft.refresh_from_db()
    assert world.draft.assigned_to == world.editor
    rerun = GenerationJobFactory(brief=world.brief, status=GenerationJob.Status.QUEUED)
    assert {d.assigned_to_id for d in _complete(rerun, 2)} == {world.editor.pk}


def test_round_robin_gives_each_new_brief_to_the_next_editor(world: World) -> None:
    ana = MembershipFactory(team=world.team, role=Role.EDITOR,
                            user=UserFactory(username="ana")).user
    # Another team's editor is never picked.
    MembershipFactory(team=world.other_team, role=Role.EDITOR, user=UserFactory(username="bo"))
    world.project.auto_assign = True
    world.project.save()
    owners = []
    for _ in range(4):
        job = GenerationJobFactory(brief=BriefFactory(project=world.project, variants=2),
                                   status=GenerationJob.Status.QUEUED)
        drafts = _complete(job, 2)
        assert len({d.assigned_to_id for d in drafts}) == 1  # a brief goes to one editor
        owners.append(drafts[0].assigned_to_id)
    first, second = sorted([world.editor.pk, ana.pk])
    assert owners == [first, second, first, second]


def test_without_round_robin_new_drafts_are_unassigned(world: World) -> None:
    job = GenerationJobFactory(brief=BriefFactory(project=world.project),
                               status=GenerationJob.Status.QUEUED)
    assert {d.assigned_to_id for d in _complete(job, 1)} == {None}


def test_the_queue_assigns_ticked_drafts(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post(reverse("review_assign"), {
        "drafts": [f"{world.draft.pk}:1"], "assignee": world.editor.pk,
        "next": reverse("review_queue"),
    })
    assert response.status_code == 302
    world.draft.refresh_from_db()
    assert world.draft.assigned_to == world.editor


def test_it_shows_who_else_has_a_draft_open(client: Client, world: World) -> None:
    ana = MembershipFactory(team=world.team, role=Role.EDITOR,
                            user=UserFactory(username="ana")).user
    key = presence.KEY.format(world.draft.pk)
    presence._redis().delete(key)
    try:
        client.force_login(ana)
        url = reverse("draft_presence", args=[world.draft.pk])
        assert "reviewing" not in client.post(url).content.decode()  # alone
        client.force_login(world.editor)
        assert "ana is reviewing this draft too" in client.post(url).content.decode()
        # The queue says so on the row, without anyone holding a claim.
        body = client.get(reverse("review_queue")).content.decode()
        assert "ana has it open" in body
        # An outsider learns nothing; GET changes nothing.
        client.force_login(world.outsider)
        assert client.post(url).status_code == 404
        assert client.get(url).status_code == 405
    finally:
        presence._redis().delete(key)


def test_presence_without_redis_shows_no_one(
    client: Client, world: World, settings: Any
) -> None:
    settings.PRESENCE_REDIS_URL = "redis://127.0.0.1:1/0"
    client.force_login(world.editor)
    response = client.post(reverse("draft_presence", args=[world.draft.pk]))
    assert response.status_code == 200 and "reviewing" not in response.content.decode()
    assert client.get(reverse("review_queue")).status_code == 200


def test_admins_switch_round_robin_on_in_the_settings_and_the_api(
    client: Client, world: World
) -> None:
    response = _api(world.admin).patch(f"/api/projects/{world.project.pk}/",
                                       {"auto_assign": True}, format="json")
    assert response.status_code == 200 and response.json()["auto_assign"] is True
    assert _api(world.editor).patch(f"/api/projects/{world.project.pk}/",
                                    {"auto_assign": False}, format="json").status_code == 403
    client.force_login(world.admin)
    page = client.get(reverse("project_settings", args=[world.project.pk])).content.decode()
    assert 'name="auto_assign"' in page and "Assign new drafts round-robin" in page
