from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studio.models import Brief
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_it_explains_a_ten_megabyte_brief_and_saves_nothing(
    client: Client, world: World, settings: Any
) -> None:
    settings.DEBUG = False
    client.force_login(world.marketer)
    before = Brief.objects.count()
    url = reverse("brief_new", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"kind": "summary", "title": "Huge", "variants": 1,
                                 "source_text": "x" * (10 * 1024 * 1024)})
    assert response.status_code == 400
    assert "too large" in response.content.decode()
    assert Brief.objects.count() == before


def test_it_shows_a_finished_404_page(client: Client, world: World, settings: Any) -> None:
    settings.DEBUG = False
    client.force_login(world.outsider)
    response = client.get(reverse("project_detail", kwargs={"project_id": world.project.pk}))
    assert response.status_code == 404
    body = response.content.decode()
    assert "belongs to a team you are not in" in body
    assert world.project.name not in body


# DEBUG off (how `make run` serves now): the studio's own pages, each with the CSP -------


def _is_studio_page(response: Any, title: str) -> None:
    body = response.content.decode()
    assert f"<h1>{title}</h1>" in body and 'class="topbar"' in body, body[:300]
    assert "/static/studio/app.css" in body  # styled like the site
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for debug_marker in ("Traceback", "URLconf", "DEBUG = True", "Using the URLconf"):
        assert debug_marker not in body


@pytest.mark.urls("tests.studio.boom_urls")
def test_error_pages_are_the_studios_with_a_csp(client: Client, world: World,
                                                 settings: Any) -> None:
    settings.DEBUG = False
    client.force_login(world.editor)

    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    _is_studio_page(missing, "Not found")
    assert "admin/" not in missing.content.decode()  # no URL list

    forbidden = client.get(reverse("project_settings", args=[world.project.pk]))
    assert forbidden.status_code == 403
    _is_studio_page(forbidden, "Not allowed")

    client.raise_request_exception = False
    failed = client.get("/boom/")
    assert failed.status_code == 500
    _is_studio_page(failed, "Something went wrong")
    assert "a bug" not in failed.content.decode()

    bad_host = client.get("/", headers={"Host": "evil.example"})
    assert bad_host.status_code == 400
    _is_studio_page(bad_host, "Bad request")

    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(world.editor)
    refused = csrf.post(reverse("team_switch"), {"team": world.team.pk})
    assert refused.status_code == 403
    _is_studio_page(refused, "This form has expired")


def test_pages_that_show_secrets_are_never_cached(client: Client, world: World) -> None:
    client.force_login(world.admin)
    for url in (reverse("project_settings", args=[world.project.pk]),
                reverse("team_members", args=[world.team.pk]), reverse("api_tokens")):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], url
    patched = client.patch(f"/api/projects/{world.project.pk}/", '{"brand_voice": "x"}',
                           content_type="application/json")
    assert patched.status_code == 200 and "no-store" in patched["Cache-Control"]
