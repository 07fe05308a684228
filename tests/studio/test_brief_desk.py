"""The brief desk: one form per kind, inline errors, the list, the brief page, A/B picks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studio.models import AuditEvent, Brief, Draft, GenerationJob
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory
from tests.studio.api.conftest import clear_generation_counters

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle(settings: Any) -> Any:
    """Empty generation windows (the HTML form shares the team's limit with the API)."""
    url = settings.API_THROTTLE_REDIS_URL
    clear_generation_counters(url)
    yield
    clear_generation_counters(url)


def _new(world: World) -> str:
    return reverse("brief_new", kwargs={"project_id": world.project.pk})


def _desk(world: World) -> str:
    return reverse("brief_desk", kwargs={"project_id": world.project.pk})


AD = {"kind": "ad_copy", "title": "Autumn blend launch", "product": "Autumn blend",
      "channel": "Instagram", "call_to_action": "Order today", "variants": 3,
      "instructions": "Cosy, short lines."}


def test_it_shows_only_the_fields_of_the_chosen_kind(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    body = client.get(_new(world) + "?kind=ad_copy").content.decode()
    assert 'name="product"' in body and 'name="call_to_action"' in body
    assert 'name="source_text"' not in body and 'name="chapters"' not in body
    body = client.get(_new(world) + "?kind=summary").content.decode()
    assert 'name="source_text"' in body and 'name="product"' not in body
    body = client.get(_new(world)).content.decode()
    assert "Choose a kind above" in body and 'name="title"' not in body


def test_it_swaps_the_kind_form_in_place_for_htmx(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    response = client.get(_new(world) + "?kind=outline",
                          headers={"HX-Request": "true", "HX-Target": "brief-form"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="brief-form"')
    assert "<html" not in body
    assert 'name="chapters"' in body


def test_it_saves_a_brief_as_queued_with_its_job(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    response = client.post(_new(world), {**AD, "team": world.other_team.pk, "status": "done",
                                         "author": world.admin.pk})
    brief = Brief.objects.get(title="Autumn blend launch")
    assert response.status_code == 302
    assert response["Location"] == reverse("brief_detail", kwargs={"brief_id": brief.pk})
    assert brief.project == world.project and brief.author == world.marketer
    assert brief.status == "queued"
    assert brief.extra == {"product": "Autumn blend", "channel": "Instagram",
                           "call_to_action": "Order today"}
    assert GenerationJob.objects.get(brief=brief).status == "queued"
    body = client.get(response["Location"]).content.decode()
    assert "Autumn blend launch" in body and "Queued" in body


def test_it_redirects_htmx_submits_with_hx_redirect(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    response = client.post(_new(world), AD, headers={"HX-Request": "true",
                                                     "HX-Target": "brief-form"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/briefs/")


def test_it_shows_errors_next_to_the_fields_and_saves_nothing(
    client: Client, world: World
) -> None:
    client.force_login(world.marketer)
    before = Brief.objects.count()
    response = client.post(_new(world), {**AD, "title": "", "variants": 10000,
                                         "call_to_action": "Go\x00"},
                           headers={"HX-Request": "true", "HX-Target": "brief-form"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_title-error"' in body and "This field is required." in body
    assert 'id="id_variants-error"' in body
    assert "Remove the control character U+0000 (NUL)" in body
    assert 'value="Autumn blend"' in body  # what was typed stays
    assert Brief.objects.count() == before
    assert not GenerationJob.objects.filter(brief__title="").exists()


def test_it_refuses_a_brief_with_an_unknown_kind(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    before = Brief.objects.count()
    response = client.post(_new(world), {**AD, "kind": "poem"})
    assert response.status_code == 200
    assert "Choose a kind above" in response.content.decode()
    assert Brief.objects.count() == before


def test_it_lists_filters_and_searches_briefs(client: Client, world: World) -> None:
    BriefFactory(project=world.project, title="Espresso guide", kind="article", status="done")
    BriefFactory(project=world.project, title="Espresso ad", kind="ad_copy", status="queued")
    BriefFactory(project=world.other_project, title="Espresso elsewhere")
    client.force_login(world.marketer)
    body = client.get(_desk(world)).content.decode()
    assert "Espresso guide" in body and "Espresso ad" in body
    assert "Espresso elsewhere" not in body
    body = client.get(_desk(world) + "?q=espresso&kind=ad_copy").content.decode()
    assert "Espresso ad" in body and "Espresso guide" not in body
    body = client.get(_desk(world) + "?status=done").content.decode()
    assert "Espresso guide" in body and "Espresso ad" not in body
    response = client.get(_desk(world) + "?q=nothing-like-this",
                          headers={"HX-Request": "true", "HX-Target": "brief-results"})
    body = response.content.decode()
    assert "<html" not in body and "No briefs match" in body
    # Unknown values are ignored rather than sent to the database.
    assert client.get(_desk(world) + "?status=evil&kind=x&ordering=author__password"
                      ).status_code == 200


def test_it_polls_the_list_only_while_a_brief_is_being_written(
    client: Client, world: World
) -> None:
    client.force_login(world.marketer)
    assert 'hx-trigger="every 4s"' not in client.get(_desk(world)).content.decode()
    BriefFactory(project=world.project, status="generating")
    assert 'hx-trigger="every 4s"' in client.get(_desk(world)).content.decode()


def test_it_runs_a_constant_number_of_queries_on_the_desk(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    client.get(_desk(world))
    with CaptureQueriesContext(connection) as few:
        client.get(_desk(world))
    for _ in range(20):
        DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.project)),
                     variant=0)
    with CaptureQueriesContext(connection) as many:
        client.get(_desk(world))
    assert len(many) == len(few)


def test_it_shows_an_empty_desk_with_a_way_to_start(client: Client, world: World) -> None:
    Brief.objects.all().delete()
    client.force_login(world.marketer)
    body = client.get(_desk(world)).content.decode()
    assert "No briefs yet" in body and _new(world) in body


def _brief_with_runs(world: World) -> tuple[Any, list[Draft], list[Draft]]:
    brief = BriefFactory(project=world.project, author=world.marketer, variants=3)
    old_job = GenerationJobFactory(brief=brief)
    old = [DraftFactory(job=old_job, variant=i, text=f"Old take {i}") for i in range(2)]
    new_job = GenerationJobFactory(brief=brief)
    new = [DraftFactory(job=new_job, variant=i, text=f"New take {i}") for i in range(3)]
    Draft.objects.filter(pk=new[1].pk).update(
        flags=[{"code": "banned_term", "message": "banned term 'cheap'", "span": [0, 3]}],
        flag_codes=["banned_term"])
    return brief, old, new


def test_it_shows_the_latest_variants_side_by_side_and_older_runs(
    client: Client, world: World
) -> None:
    brief, old, new = _brief_with_runs(world)
    client.force_login(world.marketer)
    url = reverse("brief_detail", kwargs={"brief_id": brief.pk})
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).content.decode()
    latest = body[body.index('class="variants"'):body.index("Earlier runs")]
    assert all(f"New take {i}" in latest for i in range(3))
    assert "Old take 0" not in latest
    older = body[body.index("Earlier runs"):]
    assert "Old take 0" in older and "Old take 1" in older
    assert "banned term &#x27;cheap&#x27;" in body
    assert 'hx-trigger="drafts-ready from:body"' in body
    assert reverse("brief_status", kwargs={"brief_id": brief.pk}) in body or "Drafts ready" in body
    assert reverse("brief_regenerate", kwargs={"brief_id": brief.pk}) in body
    assert len(queries) < 15


def test_it_marks_ab_variants_with_an_audit_row(client: Client, world: World) -> None:
    brief, _, new = _brief_with_runs(world)
    client.force_login(world.marketer)
    url = reverse("draft_ab_pick", kwargs={"draft_id": new[0].pk})
    response = client.post(url, {"picked": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Running in A/B" in response.content.decode()
    new[0].refresh_from_db()
    assert new[0].ab_pick
    assert AuditEvent.objects.filter(verb="draft.ab_pick", object_id=str(new[0].pk)).count() == 1
    client.post(url, {"picked": "0"})
    new[0].refresh_from_db()
    assert not new[0].ab_pick


def test_it_refuses_an_ab_pick_on_a_rejected_draft(client: Client, world: World) -> None:
    Draft.objects.filter(pk=world.draft.pk).update(status="rejected")
    client.force_login(world.marketer)
    response = client.post(reverse("draft_ab_pick", kwargs={"draft_id": world.draft.pk}),
                           {"picked": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    world.draft.refresh_from_db()
    assert not world.draft.ab_pick


def test_it_refuses_an_ab_pick_from_another_team(client: Client, world: World) -> None:
    client.force_login(world.outsider)
    response = client.post(reverse("draft_ab_pick", kwargs={"draft_id": world.draft.pk}),
                           {"picked": "1"})
    assert response.status_code == 404
    world.draft.refresh_from_db()
    assert not world.draft.ab_pick


def test_it_links_the_project_page_to_the_desk_and_the_queue(client: Client, world: World) -> None:
    client.force_login(world.editor)
    body = client.get(reverse("project_detail", kwargs={"project_id": world.project.pk})
                      ).content.decode()
    assert _desk(world) in body
    assert reverse("project_review_queue", kwargs={"project_id": world.project.pk}) in body
    client.force_login(world.marketer)
    body = client.get(reverse("project_detail", kwargs={"project_id": world.project.pk})
                      ).content.decode()
    assert _desk(world) in body
    assert reverse("project_review_queue", kwargs={"project_id": world.project.pk}) not in body


# The team's generation limit on the HTML form and regenerate ------------------------------

TYPED = {**AD, "title": "Winter <b>blend</b> & “cosy” — ünïcode",
         "instructions": "Line one.\nLine two: <script>alert(1)</script>",
         "product": "Winter blend", "call_to_action": "Order before Friday"}


def _counts() -> tuple[int, int]:
    return Brief.objects.count(), GenerationJob.objects.count()


def _assert_typed_text_is_back(body: str) -> None:
    assert 'value="Winter &lt;b&gt;blend&lt;/b&gt; &amp; “cosy” — ünïcode"' in body
    assert "Line one.\nLine two: &lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in body
    assert 'value="Winter blend"' in body and 'value="Order before Friday"' in body
    assert 'value="Instagram"' in body or '<option value="Instagram" selected>' in body
    assert "<script>alert(1)" not in body


@pytest.mark.parametrize("htmx", [False, True])
def test_a_throttled_submit_keeps_what_was_typed_says_when_and_saves_nothing(
    client: Client, world: World, settings: Any, htmx: bool
) -> None:
    settings.API_GENERATION_RATE = 1
    client.force_login(world.marketer)
    headers = {"HX-Request": "true", "HX-Target": "brief-form"} if htmx else {}
    assert client.post(_new(world), AD, headers=headers).status_code in (200, 302)
    before = _counts()
    response = client.post(_new(world), TYPED, headers=headers)
    assert response.status_code == 429
    assert 59 <= int(response["Retry-After"]) <= 60
    body = response.content.decode()
    assert "the most allowed; try again in" in body
    assert "your brief is below as you wrote it: submit it again after" in body
    _assert_typed_text_is_back(body)
    if htmx:  # the form block only, ready to swap in place
        assert body.lstrip().startswith('<div id="brief-form"') and "<html" not in body
    assert 'id="submit-brief"' in body
    assert _counts() == before
    assert not Brief.objects.filter(title__startswith="Winter").exists()


def test_a_brief_with_errors_costs_no_slot_and_shows_its_errors_not_the_limit(
    client: Client, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 1
    client.force_login(world.marketer)
    invalid = client.post(_new(world), {**AD, "title": ""})
    assert invalid.status_code == 200 and "This field is required." in invalid.content.decode()
    assert "try again in" not in invalid.content.decode()
    assert client.post(_new(world), AD).status_code == 302  # the one slot was still free
    refused = client.post(_new(world), {**AD, "title": ""})
    assert refused.status_code == 200  # field errors first, even past the limit
    assert client.post(_new(world), AD).status_code == 429


def test_the_api_and_the_form_share_the_teams_limit(
    client: Client, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 2
    client.force_login(world.marketer)
    api_url = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    api_brief = {"kind": "article", "title": "From a script", "variants": 1}
    assert client.post(api_url, json.dumps(api_brief),
                       content_type="application/json").status_code == 201
    assert client.post(_new(world), AD).status_code == 302
    assert client.post(_new(world), TYPED).status_code == 429
    assert client.post(api_url, json.dumps(api_brief),
                       content_type="application/json").status_code == 429
    # Another team's limit is its own.
    other = reverse("brief_new", kwargs={"project_id": world.other_project.pk})
    client.force_login(world.outsider)
    assert client.post(other, AD).status_code == 302


@pytest.mark.parametrize("htmx", [False, True])
def test_a_throttled_regenerate_says_when_and_queues_nothing(
    client: Client, world: World, settings: Any, htmx: bool
) -> None:
    settings.API_GENERATION_RATE = 1
    client.force_login(world.marketer)
    assert client.post(_new(world), AD).status_code == 302  # the team's one slot
    url = reverse("brief_regenerate", kwargs={"brief_id": world.brief.pk})
    headers = {"HX-Request": "true"} if htmx else {}
    before = _counts()
    response = client.post(url, headers=headers)
    assert response.status_code == 429
    assert 59 <= int(response["Retry-After"]) <= 60
    body = response.content.decode()
    assert "the most allowed; try again in" in body
    if htmx:
        assert body.lstrip().startswith(f'<div id="brief-status-{world.brief.pk}"')
        assert "Nothing was queued; regenerate again after" in body
    else:
        assert world.brief.title in body and "Nothing was queued." in body
    assert _counts() == before
    world.brief.refresh_from_db()
    assert world.brief.status == "in_review"


def test_the_target_length_is_capped_at_what_the_token_cap_can_hold(
    client: Client, world: World, settings: Any
) -> None:
    from generation.prompts import words_for_tokens

    settings.GENERATION_MAX_NEW_TOKENS = 512
    most = words_for_tokens(512)
    client.force_login(world.marketer)
    page = client.get(_new(world) + "?kind=ad_copy").content.decode()
    assert f'max="{most}"' in page
    # The hint gives the kind's usual length, not the cap ("Up to 1,161 words" for an ad).
    assert "Empty: about 60 words, usual for this kind." in page
    assert f"{most:,} words" not in page
    too_long = client.post(_new(world), {**AD, "target_words": most + 1})
    assert too_long.status_code == 200
    assert f"less than or equal to {most}" in too_long.content.decode()
    assert not Brief.objects.filter(title=AD["title"]).exists()
    assert client.post(_new(world), {**AD, "target_words": most}).status_code == 302
