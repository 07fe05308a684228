"""A member's own account: changing the (generated) password."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import World

pytestmark = pytest.mark.django_db

OLD = "s3cret-Pass-123"  # tests.factories.UserFactory's password


def test_it_links_the_password_page_from_the_top_bar(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    body = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("password_change")}"' in body
    assert reverse("password_change") == "/account/password/"


def test_it_shows_the_password_form_in_the_studio_layout(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="topbar"' in body and "Change your password" in body
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'name="{name}"' in body


def test_it_changes_the_password_and_keeps_the_session(client: Client, world: World) -> None:
    assert client.login(username="editor-a", password=OLD)
    response = client.post(reverse("password_change"), {
        "old_password": OLD, "new_password1": "Roast-Notes-2045", "new_password2": "Roast-Notes-2045",
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    done = client.get(response["Location"])
    assert done.status_code == 200 and "Password changed" in done.content.decode()
    assert client.get(reverse("dashboard")).status_code == 200  # still logged in here
    world.editor.refresh_from_db()
    assert world.editor.check_password("Roast-Notes-2045")
    assert not world.editor.check_password(OLD)


def test_it_refuses_a_wrong_old_password_or_a_weak_new_one(client: Client, world: World) -> None:
    client.force_login(world.editor)
    wrong = client.post(reverse("password_change"), {
        "old_password": "nope", "new_password1": "Roast-Notes-2045",
        "new_password2": "Roast-Notes-2045",
    })
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(reverse("password_change"), {
        "old_password": OLD, "new_password1": "password", "new_password2": "password",
    })
    assert weak.status_code == 200
    assert "This password is too common" in weak.content.decode()
    world.editor.refresh_from_db()
    assert world.editor.check_password(OLD)


def test_it_sends_anonymous_users_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
