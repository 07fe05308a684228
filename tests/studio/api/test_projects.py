from __future__ import annotations

import pytest
from django.urls import reverse

from studio.models import AuditEvent, Project
from tests.conftest import World
from tests.studio.api.conftest import Api


def _url(w: World) -> str:
    return reverse("api:project-detail", kwargs={"project_id": w.project.pk})


def test_it_lists_only_the_users_projects(api: Api, world: World) -> None:
    body = api.as_(world.editor).get("/api/projects/").json()
    assert [p["name"] for p in body["results"]] == ["Alpha blog"]


def test_an_admin_changes_settings(api: Api, world: World) -> None:
    response = api.as_(world.admin).patch(_url(world), {"brand_voice": "Plain.",
                                                        "auto_retrain_threshold": 50})
    assert response.status_code == 200
    project = Project.objects.get(pk=world.project.pk)
    assert (project.brand_voice, project.auto_retrain_threshold) == ("Plain.", 50)
    assert AuditEvent.objects.filter(verb="project.settings").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"team": 2}, "team"),
        ({"live_model": 1}, "live_model"),
        ({"name": ""}, "name"),
        ({"brand_voice": "x" * 4001}, "brand_voice"),
        ({"auto_promote": "sometimes"}, "auto_promote"),
        ({"auto_retrain_threshold": -1}, "auto_retrain_threshold"),
        ({"name": "x" * 121}, "name"),
    ],
)
def test_it_refuses_bad_settings(api: Api, world: World, body: dict[str, object],
                                 field: str) -> None:
    before = Project.objects.values().get(pk=world.project.pk)
    response = api.as_(world.admin).patch(_url(world), body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Project.objects.values().get(pk=world.project.pk) == before


def test_it_refuses_a_name_taken_in_the_team(api: Api, world: World) -> None:
    Project.objects.create(team=world.team, name="Taken")
    response = api.as_(world.admin).patch(_url(world), {"name": "Taken"})
    assert response.status_code == 400


def test_only_admins_change_settings(api: Api, world: World) -> None:
    assert api.as_(world.editor).patch(_url(world), {"brand_voice": "x"}).status_code == 403
    assert api.as_(world.outsider).patch(_url(world), {"brand_voice": "x"}).status_code == 404
    assert Project.objects.get(pk=world.project.pk).brand_voice == world.project.brand_voice
