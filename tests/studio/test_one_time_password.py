"""An invited member's (or a new team admin's) generated password works for one sign-in,
which leads straight to choosing their own."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from studio.models import Account, Role
from studio.services.members import member_invite
from tests.conftest import World

pytestmark = pytest.mark.django_db
NEW = "Espresso-Tasting-Notes-9"


def _login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def test_an_invite_password_works_once_and_must_be_changed(client: Client, world: World) -> None:
    _, one_time = member_invite(user=world.admin, team_id=world.team.pk, username="newbie",
                                role=Role.EDITOR)
    first = _login(client, "newbie", one_time)
    assert first.status_code == 302 and first["Location"] == reverse("password_set")
    page = client.get(reverse("password_set"))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "Choose your password" in page.content.decode()
    # Nothing else until then: pages lead back here, the API refuses.
    for url in (reverse("dashboard"), reverse("password_change"), reverse("api_tokens"),
                reverse("project_detail", args=[world.project.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("password_set")
    api = client.get("/api/projects/")
    assert api.status_code == 403 and "new password" in api.json()["detail"]

    # The one-time password is used up: a second sign-in with it fails.
    assert _login(Client(), "newbie", one_time).status_code == 200

    weak = client.post(reverse("password_set"), {"new_password1": "Coffee12",
                                                 "new_password2": "Coffee12"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    done = client.post(reverse("password_set"), {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200  # still signed in, free now
    assert not Account.objects.get(user__username="newbie").password_must_change
    assert _login(Client(), "newbie", NEW).status_code == 302
    # Signing in with their own password again asks nothing more.
    again = Client()
    _login(again, "newbie", NEW)
    assert again.get(reverse("dashboard")).status_code == 200


def test_create_team_gives_a_new_admin_a_one_time_password(client: Client, db: Any) -> None:
    out = io.StringIO()
    call_command("create_team", "Gamma", "--admin", "gina", stdout=out)
    password = out.getvalue().split("password: ")[1].split()[0]
    assert "for one sign-in" in out.getvalue()
    assert _login(client, "gina", password)["Location"] == reverse("password_set")
    assert not get_user_model().objects.get(username="gina").has_usable_password()


def test_other_members_sign_in_as_usual(client: Client, world: World) -> None:
    response = _login(client, "editor-a", "s3cret-Pass-123")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    # And the new-password page is not a way around the old password.
    assert client.get(reverse("password_set"))["Location"] == reverse("password_change")
