"""One policy for typed text at every door (page, htmx, API, model-level clean and the
admin's forms): ``\\r`` becomes ``\\n``, tabs stay, NUL and every other control
character is refused with the same message and nothing is stored. Runs on PostgreSQL,
where a NUL in a text column is a database error (a 500) if it gets that far."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from studio.models import AdResult, Brief, Project, Review, Team
from studio.services.generation import storable_text
from studio.validators import control_char_message, plain_text
from tests.conftest import World
from tests.studio.api.conftest import Api

pytestmark = pytest.mark.django_db

# NUL, BEL, backspace, ESC (a terminal escape), DEL and a C1 control (CSI).
BAD = ["\x00", "\x07", "\x08", "\x1b[31m", "\x7f", "\x9b"]
HX = {"HX-Request": "true", "HX-Target": "workspace"}


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def _message(ch: str) -> str:
    message = control_char_message(ch)
    assert message is not None
    return message


def test_the_suite_runs_on_postgresql() -> None:
    assert connection.vendor == "postgresql"


def test_the_policy_keeps_text_tabs_and_line_breaks_and_names_what_it_refuses() -> None:
    assert control_char_message("Tabs\tand\nlines, 中文，emoji ☕, é") is None
    assert plain_text("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert _message("\x00") == "Remove the control character U+0000 (NUL) from this text."
    assert "U+001B (ESC)" in _message("\x1b")
    assert "U+009B" in _message("\x9b")
    # Model output is not refused but stored with U+FFFD in place of each such character.
    # One for one, so flag spans computed on the model's text still line up.
    assert storable_text("ok\x00\x1b[0m\r\nend") == "ok\ufffd\ufffd[0m\r\nend"


# The review page, plain and htmx ---------------------------------------------------


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_the_review_page_refuses_control_characters_in_comments_and_text(
    client: Client, world: World, bad: str, htmx: bool
) -> None:
    client.force_login(world.editor)
    headers = HX if htmx else {}
    url = lambda name: reverse(name, kwargs={"draft_id": world.draft.pk})  # noqa: E731
    approve = client.post(url("draft_approve"), {"version": 1, "comment": f"Nice{bad}"},
                          headers=headers)
    reject = client.post(url("draft_reject"), {"version": 1, "reason_tags": ["tone"],
                                               "comment": f"Flat{bad}"}, headers=headers)
    save = client.post(url("draft_save"), {"version": 1, "text": f"New text{bad}"},
                       headers=headers)
    for response in (approve, reject, save):
        assert response.status_code == 422
        assert _message(bad) in response.content.decode()
    # What the editor typed comes back for them to fix.
    assert "Flat" in reject.content.decode()
    world.draft.refresh_from_db()
    assert (world.draft.status, world.draft.version) == ("pending", 1)
    assert Review.objects.count() == 0


def test_the_review_page_turns_carriage_returns_into_line_breaks(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    response = client.post(reverse("draft_approve", kwargs={"draft_id": world.draft.pk}),
                           {"version": 1, "text": "One.\r\nTwo.", "comment": "A\r\nB\rC"})
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.final_text, review.comment) == ("One.\nTwo.", "A\nB\nC")


# The API -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD)
def test_the_api_refuses_the_same_characters_with_the_same_message(
    api: Api, world: World, bad: str
) -> None:
    draft = reverse("api:draft-reject", kwargs={"draft_id": world.draft.pk})
    response = api.as_(world.editor).post(draft, {"reason_tags": ["tone"], "comment": bad},
                                          headers={"If-Match": '"v1"'})
    assert response.status_code == 400
    assert response.json() == {"comment": [_message(bad)]}
    project = reverse("api:project-detail", kwargs={"project_id": world.project.pk})
    response = api.as_(world.admin).patch(project, {"style_must": f"Be kind.{bad}"})
    assert response.status_code == 400
    assert response.json() == {"style_must": [_message(bad)]}
    briefs = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    response = api.as_(world.marketer).post(briefs, {
        "kind": "ad_copy", "title": "T", "variants": 1,
        "extra": {"product": f"Beans{bad}", "channel": "Instagram"}})
    assert response.status_code == 400
    assert response.json() == {"extra": {"product": [_message(bad)]}}
    assert Review.objects.count() == 0 and Brief.objects.count() == 1
    world.project.refresh_from_db()
    assert "\x07" not in world.project.style_must


def test_the_api_turns_carriage_returns_into_line_breaks(api: Api, world: World) -> None:
    project = reverse("api:project-detail", kwargs={"project_id": world.project.pk})
    response = api.as_(world.admin).patch(project, {"style_must": "Be kind.\r\nBe brief.\r"})
    assert response.status_code == 200
    world.project.refresh_from_db()
    assert world.project.style_must == "Be kind.\nBe brief.\n"


# Project settings and the brief form (pages) -----------------------------------------


@pytest.mark.parametrize("bad", BAD)
def test_project_settings_refuse_control_characters_in_prompts(
    client: Client, world: World, bad: str
) -> None:
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"name": "Alpha blog", "brand_voice": f"Bold{bad}",
                                 "style_must_not": f"Shout{bad}", "banned_terms": "x"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count(_message(bad)) == 2  # once per field, not Django's second NUL message
    world.project.refresh_from_db()
    assert world.project.brand_voice == "Warm and plain."


def test_project_settings_store_line_breaks_as_newlines(client: Client, world: World) -> None:
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"name": "Alpha blog", "style_must": "One.\r\nTwo.",
                                 "banned_terms": "a\r\nb"})
    assert response.status_code == 302
    world.project.refresh_from_db()
    assert (world.project.style_must, world.project.banned_terms) == ("One.\nTwo.", "a\nb")


@pytest.mark.parametrize("bad", ["\x00", "\x1b"])
def test_the_brief_form_refuses_them_too(client: Client, world: World, bad: str) -> None:
    client.force_login(world.marketer)
    response = client.post(reverse("brief_new", kwargs={"project_id": world.project.pk}),
                           {"kind": "article", "title": "T", "variants": 1,
                            "instructions": f"Go{bad}"})
    assert response.status_code == 200
    assert _message(bad) in response.content.decode()
    assert Brief.objects.count() == 1


def test_an_ad_result_note_follows_the_policy(world: World) -> None:
    from studio.forms.ad_results import AdResultForm

    form = AdResultForm(data={"period_start": "2026-01-01", "period_end": "2026-01-02",
                              "impressions": 10, "clicks": 1, "note": "Spend\x07"})
    assert form.errors["note"] == [_message("\x07")]
    assert AdResult.objects.count() == 0


# Model level: full_clean and the admin's model forms ------------------------------------


@pytest.mark.parametrize("bad", BAD)
def test_model_clean_and_admin_forms_refuse_them(world: World, bad: str) -> None:
    project = Project(team=world.team, name="New", brand_voice=f"Voice{bad}")
    with pytest.raises(ValidationError) as caught:
        project.full_clean()
    assert caught.value.message_dict == {"brand_voice": [_message(bad)]}
    with pytest.raises(ValidationError) as caught:
        Team(name=f"Team{bad}", slug="t").full_clean()
    assert caught.value.message_dict == {"name": [_message(bad)]}
    brief = Brief(project=world.project, author=world.marketer, kind="article", title="T",
                  keywords=["ok", f"k{bad}"], extra={f"k{bad}": "v"})
    with pytest.raises(ValidationError) as caught:
        brief.full_clean()
    assert set(caught.value.message_dict) == {"keywords", "extra"}
    # The admin builds its forms from the model fields: same refusal, same message, and
    # the same line breaks.
    form_class = forms.modelform_factory(Project, fields=["name", "brand_voice", "style_must"])
    form: Any = form_class(data={"name": "New", "brand_voice": f"V{bad}", "style_must": "a"},
                           instance=Project(team=world.team))
    assert form.errors == {"brand_voice": [_message(bad)]}
    form = form_class(data={"name": "New", "brand_voice": "V", "style_must": "a\r\nb"},
                      instance=Project(team=world.team))
    assert form.is_valid() and form.cleaned_data["style_must"] == "a\nb"
