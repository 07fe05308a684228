"""Claiming and releasing a draft through the API, as opening and leaving it on the
review page do: a claim keeps others' decisions off it for REVIEW_CLAIM_SECONDS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from studio.models import AuditEvent, Draft, Review
from tests.conftest import World
from tests.studio.api.conftest import Api


def _url(name: str, w: World) -> str:
    return reverse(f"api:draft-{name}", kwargs={"draft_id": w.draft.pk})


def _claim(w: World) -> tuple[int | None, Any]:
    d = Draft.objects.get(pk=w.draft.pk)
    return d.claimed_by_id, d.claimed_until


def test_it_claims_a_draft_for_its_editor_and_renews_it(api: Api, world: World,
                                                        settings: Any) -> None:
    api.as_(world.editor)
    response = api.post(_url("claim", world))
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"v1"'
    body = response.json()
    assert body["claimed_by"] == "editor-a"
    until = parse_datetime(body["claimed_until"])
    assert until is not None
    expected = timezone.now() + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)
    assert abs((until - expected).total_seconds()) < 5
    Draft.objects.filter(pk=world.draft.pk).update(claimed_until=timezone.now()
                                                   + timedelta(seconds=10))
    renewed = api.post(_url("claim", world))
    assert renewed.status_code == 200
    renewed_until = parse_datetime(renewed.json()["claimed_until"])
    assert renewed_until is not None
    assert renewed_until > timezone.now() + timedelta(seconds=60)
    # Claiming writes no review and no audit row: it is a lock, not a decision.
    assert Review.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_a_draft_held_by_another_editor_gets_409_with_who_and_until(
    api: Api, world: World
) -> None:
    assert api.as_(world.editor).post(_url("claim", world)).status_code == 200
    held = _claim(world)
    response = api.as_(world.admin).post(_url("claim", world))
    assert response.status_code == 409
    body = response.json()
    assert body["claimed_by"] == "editor-a"
    assert parse_datetime(body["claimed_until"]) == held[1]
    assert body["detail"].startswith("editor-a is reviewing this draft until ")
    assert timezone.localtime(held[1]).strftime("%H:%M:%S") in body["detail"]
    assert body["status"] == "pending" and response["ETag"] == '"v1"'
    assert _claim(world) == held
    # Deciding it meanwhile is refused the same way, naming the holder.
    approve = api.post(_url("approve", world), headers={"If-Match": '"v1"'})
    assert approve.status_code == 409 and approve.json()["claimed_by"] == "editor-a"
    assert Draft.objects.get(pk=world.draft.pk).status == "pending"


def test_a_claim_past_its_time_is_free_to_take(api: Api, world: World) -> None:
    Draft.objects.filter(pk=world.draft.pk).update(
        claimed_by=world.editor, claimed_until=timezone.now() - timedelta(seconds=1))
    response = api.as_(world.admin).post(_url("claim", world))
    assert response.status_code == 200 and response.json()["claimed_by"] == "admin-a"


def test_release_gives_the_claim_back_and_leaves_others_claims_alone(
    api: Api, world: World
) -> None:
    assert api.as_(world.editor).post(_url("claim", world)).status_code == 200
    held = _claim(world)
    # The admin does not hold it: nothing changes, the answer says whose it is.
    other = api.as_(world.admin).post(_url("release", world))
    assert other.status_code == 200 and other.json()["claimed_by"] == "editor-a"
    assert _claim(world) == held
    mine = api.as_(world.editor).post(_url("release", world))
    assert mine.status_code == 200
    assert mine.json()["claimed_by"] is None and mine.json()["claimed_until"] is None
    assert _claim(world) == (None, None)
    assert api.as_(world.admin).post(_url("claim", world)).status_code == 200


def test_claiming_a_decided_draft_gets_409(api: Api, world: World) -> None:
    api.as_(world.editor)
    assert api.post(_url("approve", world), headers={"If-Match": '"v1"'}).status_code == 200
    response = api.post(_url("claim", world))
    assert response.status_code == 409
    assert "already approved" in response.json()["detail"]
    assert _claim(world) == (None, None)


@pytest.mark.parametrize("name", ["claim", "release"])
def test_roles_tenancy_and_no_body(api: Api, world: World, name: str) -> None:
    assert api.as_(world.marketer).post(_url(name, world)).status_code == 403
    assert api.as_(world.outsider).post(_url(name, world)).status_code == 404
    missing = reverse(f"api:draft-{name}", kwargs={"draft_id": 10**12})
    assert api.as_(world.editor).post(missing).status_code == 404
    refused = api.post(_url(name, world), {"claimed_by": world.admin.pk})
    assert refused.status_code == 400 and "claimed_by" in refused.json()
    assert api.post(_url(name, world), raw="5").status_code == 400
    assert _claim(world) == (None, None)
