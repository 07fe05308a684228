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
