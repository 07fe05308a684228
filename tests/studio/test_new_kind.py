"""A content kind is one registered template: the desk, the form, the API and the
generation job all pick it up with no other edit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from generation.prompts import KindField, KindTemplate, register_kind, unregister_kind, user_message
from studio.forms.briefs import brief_form_for
from studio.models import Brief
from studio.services.generation import job_inputs
from studio.tasks.generation import to_request
from tests.conftest import World
from tests.studio.api.conftest import Api, clear_generation_counters


class PressReleaseTemplate(KindTemplate):
    name = "press_release"
    label = "Press release"
    description = "An announcement for journalists."
    hint = "An announcement with a quote from a spokesperson."
    default_target_words = 400
    extra_fields = (
        KindField("spokesperson", "Spokesperson", required=True, max_length=80,
                  help="Who is quoted."),
    )
    ask = "Write a press release of about {target_words} words headlined \"{title}\"."


@pytest.fixture
def press_release(settings: Any) -> Iterator[None]:
    clear_generation_counters(settings.API_THROTTLE_REDIS_URL)
    register_kind(PressReleaseTemplate)
    try:
        yield
    finally:
        unregister_kind("press_release")


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


FIELDS = {"kind": "press_release", "title": "Night Owl opens in Leeds", "variants": 1,
          "spokesperson": "Ada Roast"}


def _new(world: World) -> str:
    return reverse("brief_new", kwargs={"project_id": world.project.pk})


def _prompt_of(brief: Brief) -> str:
    request = to_request(job_inputs(job_id=brief.jobs.get().pk))
    return user_message(request.brief)


@pytest.mark.usefixtures("press_release")
def test_it_offers_the_new_kind_on_the_desk(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    body = client.get(_new(world)).content.decode()
    assert 'data-kind="press_release"' in body
    assert "An announcement with a quote from a spokesperson." in body
    body = client.get(_new(world) + "?kind=press_release").content.decode()
    assert "Press release brief" in body and 'name="spokesperson"' in body
    assert 'maxlength="80"' in body
    desk = client.get(reverse("brief_desk", kwargs={"project_id": world.project.pk}))
    assert '<option value="press_release"' in desk.content.decode()


@pytest.mark.usefixtures("press_release")
def test_its_form_checks_the_templates_fields() -> None:
    form_class = brief_form_for("press_release")
    assert not (form := form_class(data={**FIELDS, "spokesperson": ""})).is_valid()
    assert "spokesperson" in form.errors
    assert not (form := form_class(data={**FIELDS, "spokesperson": "x" * 81})).is_valid()
    assert "spokesperson" in form.errors
    form = form_class(data=FIELDS)
    assert form.is_valid(), form.errors
    assert form.to_brief_data()["extra"] == {"spokesperson": "Ada Roast"}


@pytest.mark.usefixtures("press_release")
def test_a_brief_of_it_is_made_on_the_page_and_its_job_uses_the_template(
    client: Client, world: World
) -> None:
    client.force_login(world.marketer)
    response = client.post(_new(world), FIELDS)
    assert response.status_code == 302
    brief = Brief.objects.get(title="Night Owl opens in Leeds")
    assert brief.kind == "press_release" and brief.extra == {"spokesperson": "Ada Roast"}
    assert brief.get_kind_display() == "Press release"
    prompt = _prompt_of(brief)
    assert 'Write a press release of about 400 words headlined "Night Owl opens in Leeds".' \
        in prompt
    assert "Spokesperson: Ada Roast" in prompt


@pytest.mark.usefixtures("press_release")
def test_a_brief_of_it_is_made_through_the_api(api: Api, world: World) -> None:
    url = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    body: dict[str, Any] = {"kind": "press_release", "title": "Night Owl opens in York",
                            "variants": 1, "extra": {"spokesperson": "Ada Roast"}}
    response = api.as_(world.marketer).post(url, body)
    assert response.status_code == 201, response.json()
    brief = Brief.objects.get(pk=response.json()["id"])
    assert brief.kind == "press_release"
    assert "Spokesperson: Ada Roast" in _prompt_of(brief)
    missing = api.as_(world.marketer).post(url, {**body, "extra": {}})
    assert missing.status_code == 400 and "spokesperson" in missing.json()


def test_it_is_gone_once_unregistered(api: Api, world: World) -> None:
    url = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    response = api.as_(world.marketer).post(url, {"kind": "press_release", "title": "Gone",
                                                  "variants": 1})
    assert response.status_code == 400 and "kind" in response.json()
