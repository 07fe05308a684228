"""`manage.py create_team`: how a production install gets its first team and admin."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from studio.models import AuditEvent, Membership, Role, Team
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_team", *args, stdout=out)
    return out.getvalue()


def test_a_new_admin_gets_a_password_once_and_can_sign_in_to_the_team(client: Any) -> None:
    out = run("Acme Coffee", "--admin", "alice", "--email", "alice@acme.test")
    password = re.search(r"password: (\S+)", out).group(1)  # type: ignore[union-attr]
    team = Team.objects.get(name="Acme Coffee")
    assert team.slug == "acme-coffee"
    membership = Membership.objects.get(team=team)
    assert (membership.user.username, membership.role) == ("alice", Role.ADMIN)
    assert membership.user.email == "alice@acme.test"
    assert set(AuditEvent.objects.filter(team=team).values_list("verb", flat=True)) == {
        "team.create", "member.add"}

    assert client.login(username="alice", password=password)
    page = client.get(reverse("team_members", args=[team.pk]))
    assert page.status_code == 200 and b"alice" in page.content


def test_an_existing_user_becomes_admin_and_no_password_is_printed() -> None:
    bob = UserFactory(username="bob")
    out = run("Bob's Team", "--admin", "bob")
    assert "password" not in out
    assert Membership.objects.get(team__name="Bob's Team").user == bob


def test_clashing_slugs_are_made_unique_and_clashing_names_refused() -> None:
    TeamFactory(name="Other", slug="acme")
    run("Acme", "--admin", "carol")
    assert Team.objects.get(name="Acme").slug == "acme-2"
    with pytest.raises(CommandError, match="already exists"):
        run("ACME", "--admin", "dave")
    assert not Team.objects.filter(name="ACME").exists()


@pytest.mark.parametrize(("name", "admin", "message"), [
    ("   ", "erin", "needs a name"),
    ("x" * 121, "erin", "at most 120"),
    ("Good name", "not a valid username!", "username"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(name: str, admin: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(name, "--admin", admin)
    assert not Team.objects.exists()
    assert not Membership.objects.exists()


def test_a_deactivated_user_cannot_be_made_admin() -> None:
    UserFactory(username="frank", is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        run("Frank's", "--admin", "frank")
    assert not Team.objects.exists()
