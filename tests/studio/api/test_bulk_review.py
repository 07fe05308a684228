"""Bulk review through the API: every item names its version; the input is all or
nothing, the drafts are decided one by one, each whole or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import AuditEvent, Draft, Membership, Review, Role, TrainingExample
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory
from tests.studio.api.conftest import Api

URL = "/api/drafts/bulk-review/"


@pytest.fixture
def second(world: World) -> Draft:
    return DraftFactory(job=world.job, variant=1, text="A second draft.")


@pytest.fixture
def foreign(world: World) -> Draft:
    """A draft of team B (the outsider's team)."""
    brief = BriefFactory(project=world.other_project, author=world.outsider)
    return DraftFactory(job=GenerationJobFactory(brief=brief), variant=0)


def _state() -> tuple[Any, ...]:
    drafts = tuple(Draft.objects.order_by("pk").values_list(
        "pk", "status", "version", "current_text", "claimed_by_id"))
    return (drafts, Review.objects.count(), TrainingExample.objects.count(),
            AuditEvent.objects.count())


def _approve(draft: Draft, version: Any = '"v1"') -> dict[str, Any]:
    return {"draft": draft.pk, "action": "approve", "version": version}


def _reject(draft: Draft, version: Any = '"v1"', **more: Any) -> dict[str, Any]:
    return {"draft": draft.pk, "action": "reject", "version": version,
            "reason_tags": ["tone"], **more}


def test_it_approves_and_rejects_each_at_its_version(
    api: Api, world: World, second: Draft
) -> None:
    response = api.as_(world.editor).post(URL, {"items": [
        _approve(world.draft), _reject(second, 1, comment="Flat."),
    ]})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(r["draft"], r["action"], r["status"], r["code"], r["version"], r["etag"])
            for r in body["results"]] == [
        (world.draft.pk, "approve", "ok", 200, 2, '"v2"'),
        (second.pk, "reject", "ok", 200, 2, '"v2"'),
    ]
    assert body["counts"] == {"ok": 2, "stale": 0, "decided": 0, "claimed": 0,
                              "not_found": 0, "forbidden": 0}
    assert Draft.objects.get(pk=world.draft.pk).status == "approved"
    rejected = Draft.objects.get(pk=second.pk)
    assert rejected.status == "rejected"
    assert Review.objects.get(draft=second).reason_tags == ["tone"]
    assert Review.objects.get(draft=second).comment == "Flat."
    assert sorted(TrainingExample.objects.values_list("kind", flat=True)) == ["negative", "sft"]
    # Both decided: the brief is done, as after the single endpoints.
    assert AuditEvent.objects.filter(verb__in=["draft.approve", "draft.reject"]).count() == 2
    world.brief.refresh_from_db()
    assert world.brief.status == "done"


def test_a_stale_item_is_refused_whole_and_the_others_go_through(
    api: Api, world: World, second: Draft
) -> None:
    edit = reverse("api:draft-edit", kwargs={"draft_id": world.draft.pk})
    assert api.as_(world.admin).post(edit, {"text": "The admin's words."},
                                     headers={"If-Match": '"v1"'}).status_code == 200
    Draft.objects.filter(pk=world.draft.pk).update(claimed_by=None, claimed_until=None)
    stale_before = Draft.objects.values_list("status", "version", "current_text").get(
        pk=world.draft.pk)
    response = api.as_(world.editor).post(URL, {"items": [
        _reject(world.draft, '"v1"'), _approve(second, '"v1"'),
    ]})
    assert response.status_code == 200
    stale, ok = response.json()["results"]
    assert (stale["status"], stale["code"], stale["version"], stale["etag"]) == (
        "stale", 412, 2, '"v2"')
    assert "changed since you opened it" in stale["detail"]
    assert ok["status"] == "ok"
    # Nothing of the stale decision was written: no status, no review, no example.
    assert Draft.objects.values_list("status", "version", "current_text").get(
        pk=world.draft.pk) == stale_before
    assert not Review.objects.filter(draft=world.draft, action="reject").exists()
    assert not TrainingExample.objects.filter(kind="negative").exists()


def test_decided_and_claimed_items_say_so(api: Api, world: World, second: Draft) -> None:
    approve = reverse("api:draft-approve", kwargs={"draft_id": world.draft.pk})
    assert api.as_(world.admin).post(approve, headers={"If-Match": '"v1"'}).status_code == 200
    claim = reverse("api:draft-claim", kwargs={"draft_id": second.pk})
    assert api.as_(world.editor).post(claim).status_code == 200
    held = Draft.objects.get(pk=second.pk)
    before = _state()
    response = api.as_(world.admin).post(URL, {"items": [
        _reject(world.draft, '"v2"'), _approve(second),
    ]})
    assert response.status_code == 200
    decided, claimed = response.json()["results"]
    assert (decided["status"], decided["code"]) == ("decided", 409)
    assert "already approved" in decided["detail"]
    assert (claimed["status"], claimed["code"], claimed["claimed_by"]) == ("claimed", 409,
                                                                           "editor-a")
    assert claimed["claimed_until"] == held.claimed_until.isoformat().replace("+00:00", "Z")
    assert _state() == before


def test_another_teams_draft_reads_exactly_like_a_missing_one(
    api: Api, world: World, foreign: Draft
) -> None:
    before = _state()
    response = api.as_(world.editor).post(URL, {"items": [
        _approve(foreign), {**_approve(foreign), "draft": 10**12},
    ]})
    assert response.status_code == 200
    theirs, missing = response.json()["results"]
    assert theirs == {**missing, "draft": foreign.pk}
    assert theirs["status"] == "not_found" and theirs["code"] == 404
    assert theirs["version"] is None and theirs["etag"] is None
    assert "Beta" not in response.content.decode()
    # And the other way round: team B's admin cannot touch team A's draft.
    outsider = api.as_(world.outsider).post(URL, {"items": [_approve(world.draft)]})
    assert outsider.status_code == 200
    assert outsider.json()["results"][0]["status"] == "not_found"
    assert world.project.name not in outsider.content.decode()
    assert _state() == before


def test_a_draft_of_a_team_where_the_role_cannot_review_is_forbidden(
    api: Api, world: World, foreign: Draft
) -> None:
    Membership.objects.create(user=world.editor, team=world.other_team, role=Role.MARKETER)
    response = api.as_(world.editor).post(URL, {"items": [_approve(foreign),
                                                          _approve(world.draft)]})
    assert response.status_code == 200
    forbidden, ok = response.json()["results"]
    assert (forbidden["status"], forbidden["code"], forbidden["version"]) == ("forbidden", 403,
                                                                              None)
    assert ok["status"] == "ok"
    assert Draft.objects.get(pk=foreign.pk).status == "pending"


def test_a_marketer_gets_403_for_the_whole_request(api: Api, world: World) -> None:
    before = _state()
    response = api.as_(world.marketer).post(URL, {"items": [_approve(world.draft)]})
    assert response.status_code == 403
    assert _state() == before


def test_every_item_needs_its_version(api: Api, world: World, second: Draft) -> None:
    before = _state()
    items = [_approve(world.draft), {"draft": second.pk, "action": "approve"}]
    response = api.as_(world.editor).post(URL, {"items": items})
    assert response.status_code == 400
    assert list(response.json()["items"]) == ["1"]
    assert "version" in response.json()["items"]["1"]
    for bad in ["yes", "", None, True, "v", '"w3"']:
        refused = api.post(URL, {"items": [_approve(world.draft, bad)]})
        assert refused.status_code == 400, bad
        assert "version" in refused.json()["items"]["0"]
    assert _state() == before
    # The ETag as sent, its weak form, or the bare number from the draft list.
    forms = ['"v1"', 'W/"v1"', "v1", 1, "1"]
    drafts = [world.draft, second, *(DraftFactory(job=world.job, variant=v) for v in (2, 3, 4))]
    response = api.post(URL, {"items": [_approve(d, f) for d, f in zip(drafts, forms,
                                                                         strict=True)]})
    assert [r["status"] for r in response.json()["results"]] == ["ok"] * 5


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"draft": 1, "action": "approve", "version": "v1", "status": "approved"}], "status"),
        ([{"draft": 1, "action": "approve", "version": "v1", "approved_by": 1}], "approved_by"),
        ([{"draft": 1, "action": "publish", "version": "v1"}], "action"),
        ([{"draft": "one", "action": "approve", "version": "v1"}], "draft"),
        ([{"draft": 1, "action": "approve", "version": "v1", "reason_tags": "tone"}],
         "reason_tags"),
    ],
)
def test_it_refuses_unknown_and_malformed_item_fields(
    api: Api, world: World, items: list[dict[str, Any]], field: str
) -> None:
    before = _state()
    items = [{**item, "draft": world.draft.pk} if item["draft"] == 1 else item for item in items]
    response = api.as_(world.editor).post(URL, {"items": items})
    assert response.status_code == 400
    assert field in response.json()["items"]["0"], response.json()
    assert _state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [], "team": 1}, "team"),
        ({"items": []}, "items"),
        ({"items": "all"}, "items"),
        ({"items": [5]}, "items"),
        ({}, "items"),
        ([{"draft": 1, "action": "approve", "version": "v1"}], "non_field_errors"),
    ],
)
def test_it_refuses_a_malformed_body(api: Api, world: World, body: Any, field: str) -> None:
    before = _state()
    response = api.as_(world.editor).post(URL, body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert _state() == before


def test_it_refuses_a_body_that_is_not_json(api: Api, world: World) -> None:
    api.as_(world.editor)
    assert api.post(URL, raw='{"items": [').status_code == 400
    assert api.client.post(URL, {"items": "x"}).status_code == 415


def test_one_bad_item_refuses_the_whole_request_before_anything_is_written(
    api: Api, world: World, second: Draft
) -> None:
    before = _state()
    cases = [
        ([_approve(world.draft), _reject(second, reason_tags=["boring"])], "reason_tags"),
        ([_approve(world.draft), _reject(second, reason_tags=[])], "reason_tags"),
        ([_approve(world.draft), _reject(second, reason_tags=["other"])], "comment"),
        ([_approve(world.draft), {**_approve(second), "reason_tags": ["tone"]}], "reason_tags"),
        ([_approve(world.draft), {**_approve(second), "comment": "x" * 4001}], "comment"),
        ([_approve(world.draft), _reject(world.draft)], "draft"),
    ]
    api.as_(world.editor)
    for items, field in cases:
        response = api.post(URL, {"items": items})
        assert response.status_code == 400, items
        errors = response.json()["items"]
        assert list(errors) == ["1"] and field in errors["1"], errors
        assert _state() == before


def test_it_caps_the_batch_at_100(api: Api, world: World) -> None:
    before = _state()
    items = [{"draft": 10**9 + i, "action": "approve", "version": "v1"} for i in range(101)]
    response = api.as_(world.editor).post(URL, {"items": items})
    assert response.status_code == 400
    assert response.json()["items"] == ["Send at most 100 decisions at a time (101 sent)."]
    exactly = api.post(URL, {"items": items[:100]})
    assert exactly.status_code == 200
    assert exactly.json()["counts"]["not_found"] == 100
    assert _state() == before


def test_it_needs_a_login(api: Api, world: World) -> None:
    assert api.post(URL, {"items": [_approve(world.draft)]}).status_code in (401, 403)
