"""API tokens: made on one's own page (password asked again), shown once, listed,
revoked by their owner, expiring, dead after a password change; wrong keys are limited
per address."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studio.models import ApiToken
from studio.services.accounts import api_token_create
from tests.conftest import World

pytestmark = pytest.mark.django_db
PASSWORD = "s3cret-Pass-123"  # tests.factories.UserFactory's password


def _api(key: str, address: str = "10.9.0.1") -> Any:
    return Client().get("/api/projects/", headers={"Authorization": f"Token {key}"},
                        REMOTE_ADDR=address)


def test_an_owner_makes_lists_and_revokes_a_token_on_the_page(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    page = client.get(reverse("api_tokens"))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    made = client.post(reverse("api_tokens"), {"name": "nightly <b>export</b>",
                                               "password": PASSWORD})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    body = made.content.decode()
    key = re.search(r'id="new-token-key" class="secret">([^<]+)<', body).group(1)
    assert "nightly &lt;b&gt;export&lt;/b&gt;" in body
    assert _api(key).status_code == 200

    listed = client.get(reverse("api_tokens")).content.decode()
    assert key not in listed and f"{key[:8]}…" in listed  # shown once, then its prefix
    token = ApiToken.objects.get(user=world.editor)
    assert token.key_sha256 != key and key not in token.key_sha256

    revoked = client.post(reverse("api_token_revoke", args=[token.pk]), follow=True)
    assert "revoked" in revoked.content.decode()
    refused = _api(key)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_it_asks_for_the_password_and_a_name(client: Client, world: World) -> None:
    client.force_login(world.editor)
    wrong = client.post(reverse("api_tokens"), {"name": "x", "password": "nope"})
    assert wrong.status_code == 400 and "That is not your password." in wrong.content.decode()
    unnamed = client.post(reverse("api_tokens"), {"name": "  ", "password": PASSWORD})
    assert unnamed.status_code == 400 and "Give the token a name" in unnamed.content.decode()
    assert not ApiToken.objects.exists()


def test_nobody_revokes_or_sees_someone_elses_token(client: Client, world: World) -> None:
    token, key = api_token_create(user=world.admin, name="admin's")
    client.force_login(world.editor)
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    assert "admin&#x27;s" not in client.get(reverse("api_tokens")).content.decode()
    assert _api(key).status_code == 200


def test_a_token_expires(settings: Any, world: World) -> None:
    settings.API_TOKEN_DAYS = 30
    token, key = api_token_create(user=world.editor, name="short")
    assert token.expires_at - timezone.now() > timedelta(days=29)
    assert _api(key).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _api(key)
    assert response.status_code == 401 and response.json()["detail"] == "Token expired."


def test_changing_the_password_on_the_page_revokes_every_token(
    client: Client, world: World
) -> None:
    _, first = api_token_create(user=world.editor, name="one")
    _, second = api_token_create(user=world.editor, name="two")
    client.force_login(world.editor)
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "Roast-Notes-2045",
        "new_password2": "Roast-Notes-2045"}, follow=True)
    assert "Your 2 API tokens were revoked." in response.content.decode()
    assert "no-store" in client.get(reverse("password_change"))["Cache-Control"]
    for key in (first, second):
        assert _api(key).status_code == 401
    listed = client.get(reverse("api_tokens")).content.decode()
    assert listed.count("password changed") == 2


def test_a_password_changed_by_any_other_door_kills_the_tokens_too(world: World) -> None:
    _, key = api_token_create(user=world.editor, name="one")
    world.editor.set_password("Another-Long-Phrase-77")  # e.g. the admin or changepassword
    world.editor.save()
    response = _api(key)
    assert response.status_code == 401 and "password changed" in response.json()["detail"]


def test_an_address_guessing_tokens_is_refused_even_a_right_key(
    settings: Any, world: World
) -> None:
    settings.API_TOKEN_FAILURE_RATE = 5
    _, key = api_token_create(user=world.editor, name="real")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    codes = [_api(f"guess-{n}", address).status_code for n in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    refused = _api(key, address)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "wrong token" in refused.json()["detail"]
    assert _api(key, "10.250.250.250").status_code == 200  # other addresses are not hit
