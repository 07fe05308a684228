"""Plain words for users, details for admins (issue #11, point 5).

A failed or retrying job shows marketers and editors a plain sentence on the brief
page, its status fragment and the API; the technical error reaches the team's admins
only, escaped.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import GenerationJob, Project
from studio.selectors.generation import LIVE_MODEL_BROKEN
from tests.conftest import World
from tests.factories import GenerationJobFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db

TECHNICAL = ("AdapterError: /srv/studio/adapters/7/job-3/adapter/adapter_model.safetensors "
             "holds LoRA weights of the wrong shape (RuntimeError: <script>alert(1)</script>)")


@pytest.fixture
def broken_live(world: World) -> GenerationJob:
    """The project's live version could not be loaded by the worker for this job."""
    live = ModelVersionFactory(project=world.project, number=900_001, status="live",
                               adapter_path="/srv/studio/adapters/7/job-3/adapter")
    Project.objects.filter(pk=world.project.pk).update(live_model=live)
    return GenerationJobFactory(brief=world.brief, model_version=live, status="failed",
                                failure="model", error=TECHNICAL)


def _pages(client: Any, world: World) -> dict[str, str]:
    brief_id = world.brief.pk
    return {
        "brief page": client.get(reverse("brief_detail", kwargs={"brief_id": brief_id}))
        .content.decode(),
        "status fragment": client.get(reverse("brief_status", kwargs={"brief_id": brief_id}),
                                      headers={"HX-Request": "true"}).content.decode(),
    }


@pytest.mark.parametrize("role", ["marketer", "editor"])
def test_it_tells_marketers_and_editors_in_plain_words_that_the_live_model_broke(
    client: Any, world: World, broken_live: GenerationJob, role: str
) -> None:
    client.force_login(world.user(role))
    for where, body in _pages(client, world).items():
        assert LIVE_MODEL_BROKEN.replace("'", "&#x27;") in body, where
        for technical in ("AdapterError", "adapter_model.safetensors", "/srv/studio",
                          "RuntimeError", "Technical details"):
            assert technical not in body, (where, technical)
        assert reverse("model_versions", kwargs={"project_id": world.project.pk}) not in body

    job = client.get(reverse("api:brief-detail", kwargs={"brief_id": world.brief.pk})
                     ).json()["jobs"][0]
    assert job["id"] == broken_live.pk
    assert (job["status"], job["failure"], job["error"]) == ("failed", "model", LIVE_MODEL_BROKEN)
    assert job["error_detail"] is None
    assert "AdapterError" not in str(job)


def test_it_shows_admins_the_technical_error_escaped_and_the_way_to_roll_back(
    client: Any, world: World, broken_live: GenerationJob
) -> None:
    client.force_login(world.admin)
    models_url = reverse("model_versions", kwargs={"project_id": world.project.pk})
    for where, body in _pages(client, world).items():
        assert LIVE_MODEL_BROKEN.replace("'", "&#x27;") in body, where
        assert "Technical details" in body and "adapter_model.safetensors" in body, where
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
        assert f'href="{models_url}"' in body, where

    job = client.get(reverse("api:brief-detail", kwargs={"brief_id": world.brief.pk})
                     ).json()["jobs"][0]
    assert job["error"] == LIVE_MODEL_BROKEN and job["error_detail"] == TECHNICAL


def test_it_no_longer_asks_for_a_roll_back_once_the_project_has_moved_on(
    client: Any, world: World, broken_live: GenerationJob
) -> None:
    Project.objects.filter(pk=world.project.pk).update(live_model=None)  # used the base
    client.force_login(world.marketer)
    body = _pages(client, world)["brief page"]
    assert "roll back" not in body
    assert "the project has changed model since, so regenerate" in body


@pytest.mark.parametrize(("failure", "words"), [
    ("base_model", "The writing model could not be loaded"),
    ("brief", "Submit a shorter or completed brief"),
    ("gave_up", "Writing stopped on every attempt"),
    ("error", "Something went wrong while writing"),
    ("", "Something went wrong while writing"),  # jobs that failed before codes existed
])
def test_it_says_each_kind_of_failure_in_plain_words(
    client: Any, world: World, failure: str, words: str
) -> None:
    GenerationJobFactory(brief=world.brief, status="failed", failure=failure,
                         error="ModelLoadError: cannot load model from /models/x: <b>bad</b>")
    client.force_login(world.marketer)
    for where, body in _pages(client, world).items():
        assert words in body, where
        assert "ModelLoadError" not in body and "/models/x" not in body, where
    client.force_login(world.admin)
    assert "ModelLoadError: cannot load model from /models/x: &lt;b&gt;bad&lt;/b&gt;" in _pages(
        client, world)["brief page"]


def test_it_says_a_retry_is_coming_without_the_error(client: Any, world: World) -> None:
    GenerationJobFactory(brief=world.brief, status="queued", attempts=1, sent_at=None,
                         error="ValueError: The version of PEFT you are using is not compatible")
    client.force_login(world.marketer)
    body = _pages(client, world)["status fragment"]
    assert "it is being tried again" in body
    assert "ValueError" not in body and "PEFT" not in body
    job = client.get(reverse("api:brief-detail", kwargs={"brief_id": world.brief.pk})
                     ).json()["jobs"][0]
    assert job["error"] == "The last attempt ran into a problem; it is being tried again."
    assert job["error_detail"] is None
