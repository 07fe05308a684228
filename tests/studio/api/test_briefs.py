"""Briefs through the API: the same rules as the brief desk, 4xx for every bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import AuditEvent, Brief, GenerationJob
from tests.conftest import World
from tests.studio.api.conftest import Api

AD = {"kind": "ad_copy", "title": "Autumn roast", "variants": 2,
      "keywords": ["roast", "autumn"],
      "extra": {"product": "Autumn roast", "channel": "Instagram", "call_to_action": "Order"}}


def _briefs(w: World) -> str:
    return reverse("api:project-briefs", kwargs={"project_id": w.project.pk})


def _counts() -> tuple[int, int, int]:
    return Brief.objects.count(), GenerationJob.objects.count(), AuditEvent.objects.count()


def test_it_creates_a_brief_and_queues_its_first_job(
    api: Api, world: World, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr("studio.services.briefs.job_send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_(world.marketer).post(_briefs(world), AD)
    assert response.status_code == 201, response.json()
    body = response.json()
    brief = Brief.objects.get(pk=body["id"])
    assert brief.author == world.marketer and brief.project == world.project
    assert brief.extra == {"product": "Autumn roast", "channel": "Instagram",
                           "call_to_action": "Order"}
    assert brief.keywords == ["roast", "autumn"]
    assert body["status"] == "queued" and body["job"]["status"] == "queued"
    assert sent == [body["job"]["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"variants": 0}, "variants"),
        ({"variants": 10_000}, "variants"),
        ({"variants": "many"}, "variants"),
        ({"kind": "poem"}, "kind"),
        ({"title": ["a", "list"]}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"extra": {"channel": "Carrier pigeon"}}, "channel"),
        ({"deadline": "next tuesday"}, "deadline"),
        ({"keywords": "not-a-list"}, "keywords"),
        ({"team": 1}, "team"),
        ({"status": "done"}, "status"),
        ({"author": 1}, "author"),
        ({"project": 1}, "project"),
        ({"model_version": 1}, "model_version"),
    ],
)
def test_it_refuses_bad_fields_with_a_field_message_and_writes_nothing(
    api: Api, world: World, change: dict[str, Any], field: str
) -> None:
    before = _counts()
    body = {**AD, **change, "extra": {**AD["extra"], **change.get("extra", {})}}  # type: ignore[dict-item]
    response = api.as_(world.marketer).post(_briefs(world), body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert _counts() == before


def test_it_refuses_a_missing_field(api: Api, world: World) -> None:
    response = api.as_(world.marketer).post(_briefs(world), {"kind": "summary", "title": "x",
                                                             "variants": 1})
    assert response.status_code == 400
    assert "source_text" in response.json()


@pytest.mark.parametrize("raw", [b"{not json", b'{"kind": "article", "title": "\xff\xfe"}',
                                 b"[1, 2]", b'"a string"', b"null"])
def test_it_refuses_malformed_bodies(api: Api, world: World, raw: bytes) -> None:
    before = _counts()
    response = api.as_(world.marketer).post(_briefs(world), raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()
    assert _counts() == before


def test_it_refuses_a_lone_surrogate(api: Api, world: World) -> None:
    response = api.as_(world.marketer).post(
        _briefs(world), raw=b'{"kind": "article", "title": "x\\ud800", "variants": 1}'
    )
    assert response.status_code == 400
    assert Brief.objects.count() == 1


def test_it_refuses_an_oversized_body(api: Api, world: World, settings: Any) -> None:
    before = _counts()
    big = {**AD, "kind": "summary", "source_text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    response = api.as_(world.marketer).post(_briefs(world), big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert _counts() == before


def test_it_refuses_a_source_text_over_the_form_limit(api: Api, world: World) -> None:
    response = api.as_(world.marketer).post(
        _briefs(world), {**AD, "kind": "summary", "source_text": "x" * 100_001}
    )
    assert response.status_code == 400
    assert "source_text" in response.json()


def test_it_hides_another_teams_project(api: Api, world: World) -> None:
    url = reverse("api:project-briefs", kwargs={"project_id": world.other_project.pk})
    before = _counts()
    assert api.as_(world.marketer).post(url, AD).status_code == 404
    assert api.as_(world.marketer).get(url).status_code == 404
    assert _counts() == before


def test_it_lists_a_projects_briefs_with_the_desk_filters(api: Api, world: World) -> None:
    api.as_(world.admin)
    response = api.get(_briefs(world), kind="article")
    assert response.status_code == 200
    assert [b["id"] for b in response.json()["results"]] == [world.brief.pk]
    assert response.json()["results"][0]["pending"] == 1
    assert api.get(_briefs(world), kind="ad_copy").json()["results"] == []
    assert api.get(_briefs(world), status="bogus").status_code == 400


def test_it_shows_a_brief_with_its_jobs_and_drafts(api: Api, world: World) -> None:
    url = reverse("api:brief-detail", kwargs={"brief_id": world.brief.pk})
    body = api.as_(world.marketer).get(url).json()
    assert body["jobs"][0]["id"] == world.job.pk
    assert body["jobs"][0]["drafts"][0]["id"] == world.draft.pk


def test_it_regenerates_once_at_a_time(api: Api, world: World) -> None:
    url = reverse("api:brief-regenerate", kwargs={"brief_id": world.brief.pk})
    api.as_(world.marketer)
    first = api.post(url)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    second = api.post(url)
    assert second.status_code == 409
    assert "already being written" in second.json()["detail"]
    assert world.brief.jobs.count() == 2
    assert api.post(url, {"status": "done"}).status_code == 400


def test_it_throttles_generation_per_team_with_retry_after(
    api: Api, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 2
    api.as_(world.marketer)
    assert api.post(_briefs(world), AD).status_code == 201
    assert api.post(_briefs(world), AD).status_code == 201
    before = _counts()
    refused = api.post(_briefs(world), AD)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert _counts() == before
    # The limit is the team's, whoever asks; another team is not affected.
    regen = reverse("api:brief-regenerate", kwargs={"brief_id": world.brief.pk})
    assert api.as_(world.editor).post(regen).status_code == 429
    other = reverse("api:project-briefs", kwargs={"project_id": world.other_project.pk})
    assert api.as_(world.outsider).post(other, AD).status_code == 201


def test_it_lets_briefs_through_when_the_throttle_store_is_down(
    api: Api, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 1
    settings.API_THROTTLE_REDIS_URL = "redis://127.0.0.1:1/0"
    api.as_(world.marketer)
    assert api.post(_briefs(world), AD).status_code == 201
    assert api.post(_briefs(world), AD).status_code == 201


@pytest.mark.parametrize("raw", [b'{"\\ud800": 1}', b'{"kind": "article", "title": "t", "variants": 1, "extra": {"\\udfff": []}}'])
def test_it_refuses_lone_surrogates_anywhere(api: Api, world: World, raw: bytes) -> None:
    response = api.as_(world.marketer).post(_briefs(world), raw=raw)
    assert response.status_code == 400
    assert "invalid character" in response.json()["detail"]


def test_it_refuses_other_media_types(api: Api, world: World) -> None:
    api.as_(world.marketer)
    response = api.client.post(_briefs(world), {"kind": "article", "title": "t", "variants": 1})
    assert response.status_code == 415
    assert Brief.objects.count() == 1


# What the brief would not keep is refused by name, never dropped ------------------------


def test_it_refuses_a_source_text_the_kind_would_not_keep(api: Api, world: World) -> None:
    before = _counts()
    response = api.as_(world.marketer).post(
        _briefs(world), {**AD, "source_text": "The whole press release. " * 2000})
    assert response.status_code == 400
    assert response.json() == {"source_text": ["Briefs of kind ad_copy have no source text; "
                                               "leave it out."]}
    assert _counts() == before


def test_it_refuses_thousands_of_unknown_extra_keys_naming_a_few(api: Api, world: World) -> None:
    before = _counts()
    extra = {**AD["extra"], **{f"k{i:04}": "v" for i in range(5000)}}  # type: ignore[dict-item]
    response = api.as_(world.marketer).post(_briefs(world), {**AD, "extra": extra})
    assert response.status_code == 400
    message = response.json()["extra"][0]
    assert message.startswith("Unknown fields for kind ad_copy: k0000, k0001,")
    assert "and 4,990 more. It takes: product, channel, call_to_action." in message
    assert len(response.content) < 1000
    assert _counts() == before


@pytest.mark.parametrize("extra", [{"title": "Sneaky"}, {"source_text": "x"}, {"": "x"}])
def test_it_refuses_extra_keys_that_are_not_the_kinds_own(
    api: Api, world: World, extra: dict[str, str]
) -> None:
    body = {**AD, "extra": {**AD["extra"], **extra}}  # type: ignore[dict-item]
    response = api.as_(world.marketer).post(_briefs(world), body)
    assert response.status_code == 400
    assert "Unknown fields" in response.json()["extra"][0]


def test_it_refuses_more_keywords_than_it_keeps(api: Api, world: World) -> None:
    before = _counts()
    response = api.as_(world.marketer).post(
        _briefs(world), {**AD, "keywords": [f"word{i}" for i in range(21)]})
    assert response.status_code == 400
    assert response.json() == {"keywords": ["Give at most 20 keywords (21 given)."]}
    assert _counts() == before
    assert api.post(_briefs(world), {**AD, "keywords": [f"w{i}" for i in range(20)]}
                    ).status_code == 201


@pytest.mark.parametrize("name", ["model-version-promote", "model-version-rollback"])
def test_actions_without_input_refuse_a_body(api: Api, world: World, name: str) -> None:
    url = reverse(f"api:{name}", kwargs={"version_id": world.version.pk})
    response = api.as_(world.admin).post(url, {"force": True})
    assert response.status_code == 400
    assert response.json() == {"force": ["This field cannot be set here."]}
