"""Review decisions through the API: ETag / If-Match, 412 with both texts, 428, 409."""

from __future__ import annotations

import pytest
from django.urls import reverse

from studio.models import AuditEvent, Draft, Review, TrainingExample
from tests.conftest import World
from tests.studio.api.conftest import Api


def _url(name: str, w: World) -> str:
    return reverse(f"api:draft-{name}", kwargs={"draft_id": w.draft.pk})


def _state(w: World) -> tuple[str, int, str, int, int, int]:
    d = Draft.objects.get(pk=w.draft.pk)
    return (d.status, d.version, d.current_text, Review.objects.count(),
            TrainingExample.objects.count(), AuditEvent.objects.count())


def test_it_sends_the_version_as_etag(api: Api, world: World) -> None:
    response = api.as_(world.marketer).get(_url("detail", world))
    assert response.status_code == 200
    assert response["ETag"] == '"v1"'
    assert response.json()["version"] == 1 and response.json()["history"] == []


def test_it_approves_at_the_version_seen(api: Api, world: World) -> None:
    response = api.as_(world.editor).post(_url("approve", world), {"comment": "Good."},
                                          headers={"If-Match": '"v1"'})
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"v2"'
    body = response.json()
    assert body["status"] == "approved" and body["history"][0]["action"] == "approve"
    assert TrainingExample.objects.filter(kind="sft").count() == 1


def test_it_approves_with_edits(api: Api, world: World) -> None:
    response = api.as_(world.admin).post(_url("approve", world), {"text": "Better words."},
                                         headers={"If-Match": '"v1"'})
    assert response.status_code == 200
    assert response.json()["current_text"] == "Better words."
    assert response.json()["history"][0]["action"] == "approve_edited"
    assert sorted(TrainingExample.objects.values_list("kind", flat=True)) == ["preference", "sft"]


def test_it_rejects_with_reason_tags(api: Api, world: World) -> None:
    response = api.as_(world.editor).post(_url("reject", world),
                                          {"reason_tags": ["tone", "too_long"]},
                                          headers={"If-Match": "v1"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert Review.objects.get().reason_tags == ["tone", "too_long"]


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("reject", {"reason_tags": ["boring"]}, "reason_tags"),
        ("reject", {"reason_tags": []}, "reason_tags"),
        ("reject", {"reason_tags": ["other"]}, "comment"),
        ("reject", {"reason_tags": "tone"}, "reason_tags"),
        ("approve", {"text": "   "}, "text"),
        ("approve", {"text": 12.5, "status": "approved"}, "status"),
        ("approve", {"approved_by": 1}, "approved_by"),
        ("edit", {}, "text"),
        ("edit", {"text": "x" * 100_001}, "text"),
    ],
)
def test_it_refuses_bad_input_and_changes_nothing(
    api: Api, world: World, name: str, body: dict[str, object], field: str
) -> None:
    before = _state(world)
    response = api.as_(world.editor).post(_url(name, world), body, headers={"If-Match": '"v1"'})
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert _state(world) == before


@pytest.mark.parametrize("name", ["approve", "reject", "edit"])
def test_it_requires_if_match(api: Api, world: World, name: str) -> None:
    before = _state(world)
    body = {"reason_tags": ["tone"]} if name == "reject" else {"text": "x"}
    if name == "approve":
        body = {}
    response = api.as_(world.editor).post(_url(name, world), body)
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert api.post(_url(name, world), body, headers={"If-Match": "*"}).status_code == 428
    assert api.post(_url(name, world), body, headers={"If-Match": "yes"}).status_code == 400
    assert _state(world) == before


def test_a_stale_save_gets_412_with_both_texts_and_loses_nothing(api: Api, world: World) -> None:
    api.as_(world.editor)
    first = api.post(_url("edit", world), {"text": "First editor's text."},
                     headers={"If-Match": '"v1"'})
    assert first.status_code == 200 and first["ETag"] == '"v2"'
    # The claim is the first editor's; the admin saves from a stale page after it ends.
    Draft.objects.filter(pk=world.draft.pk).update(claimed_by=None, claimed_until=None)
    before = _state(world)
    stale = api.as_(world.admin).post(_url("approve", world), {"text": "Admin's text."},
                                      headers={"If-Match": '"v1"'})
    assert stale.status_code == 412
    body = stale.json()
    assert body["current_text"] == "First editor's text."
    assert body["your_text"] == "Admin's text."
    assert body["current_version"] == 2 and stale["ETag"] == '"v2"'
    assert _state(world) == before
    again = api.post(_url("approve", world), {"text": "Admin's text."},
                     headers={"If-Match": stale["ETag"]})
    assert again.status_code == 200


def test_a_decided_draft_gets_409(api: Api, world: World) -> None:
    api.as_(world.editor)
    assert api.post(_url("approve", world), headers={"If-Match": '"v1"'}).status_code == 200
    before = _state(world)
    late = api.post(_url("reject", world), {"reason_tags": ["tone"]},
                    headers={"If-Match": '"v2"'})
    assert late.status_code == 409
    assert "already approved" in late.json()["detail"]
    assert _state(world) == before


def test_another_editors_claim_gets_409(api: Api, world: World) -> None:
    api.as_(world.editor)
    assert api.post(_url("edit", world), {"text": "Mine."},
                    headers={"If-Match": '"v1"'}).status_code == 200
    response = api.as_(world.admin).post(_url("approve", world), headers={"If-Match": '"v2"'})
    assert response.status_code == 409
    assert "reviewing this draft" in response.json()["detail"]


def test_roles_and_tenancy(api: Api, world: World) -> None:
    before = _state(world)
    headers = {"If-Match": '"v1"'}
    assert api.as_(world.marketer).post(_url("approve", world), headers=headers).status_code == 403
    assert api.as_(world.outsider).post(_url("approve", world), headers=headers).status_code == 404
    # An outsider learns nothing, even without If-Match.
    assert api.post(_url("approve", world)).status_code == 404
    assert api.get(_url("detail", world)).status_code == 404
    assert _state(world) == before


def test_it_picks_ab_variants(api: Api, world: World) -> None:
    response = api.as_(world.marketer).post(_url("ab-pick", world), {"picked": True})
    assert response.status_code == 200 and response.json()["ab_pick"] is True
    assert api.post(_url("ab-pick", world), {"picked": "perhaps"}).status_code == 400
