"""Token auth for scripts, session auth with CSRF for the browser, 401 for the rest."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management import call_command
from django.test import Client

from studio.models import ApiToken, Project
from tests.conftest import World


def _token_for(username: str) -> str:
    out = io.StringIO()
    call_command("create_token", username, stdout=out)
    return out.getvalue().split()[1]


def test_a_script_uses_a_token_from_the_management_command(world: World) -> None:
    key = _token_for(world.admin.username)
    token = ApiToken.objects.get(user=world.admin)
    assert token.prefix == key[:8] and key not in token.key_sha256  # only a hash is kept
    client = Client(enforce_csrf_checks=True)
    auth = {"Authorization": f"Token {key}"}
    assert client.get("/api/projects/", headers=auth).json()["count"] == 1
    # No CSRF token needed with a token: it is not a browser's ambient credential.
    response = client.patch(f"/api/projects/{world.project.pk}/",
                            json.dumps({"brand_voice": "By script."}),
                            content_type="application/json", headers=auth)
    assert response.status_code == 200


def test_it_refuses_missing_and_wrong_tokens_with_401(world: World) -> None:
    client = Client()
    missing = client.get("/api/projects/")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == "Token"
    assert world.project.name not in missing.content.decode()
    wrong = client.get("/api/projects/", headers={"Authorization": "Token nope"})
    assert wrong.status_code == 401
    garbled = client.get("/api/projects/", headers={"Authorization": "Token a b"})
    assert garbled.status_code == 401


def test_a_token_of_a_removed_member_sees_nothing_at_once(world: World) -> None:
    key = _token_for(world.editor.username)
    world.memberships["editor"].delete()
    response = Client().get(f"/api/projects/{world.project.pk}/",
                            headers={"Authorization": f"Token {key}"})
    assert response.status_code == 404


def test_a_session_write_needs_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.admin)
    url = f"/api/projects/{world.project.pk}/"
    body = json.dumps({"brand_voice": "From the browser."})
    refused = client.patch(url, body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert Project.objects.get(pk=world.project.pk).brand_voice != "From the browser."
    client.get("/")  # the page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    ok = client.patch(url, body, content_type="application/json",
                      headers={"X-CSRFToken": token})
    assert ok.status_code == 200


def test_healthz_needs_no_login(client: Any, db: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
