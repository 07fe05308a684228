"""Members: team admins invite new people; existing accounts can't be probed or pulled in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import Client
from django.urls import reverse

from studio.models import AuditEvent, Membership, Role
from studio.services.members import USERNAME_REFUSED, member_add, member_invite
from tests.conftest import World
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def _members_url(world: World) -> str:
    return reverse("team_members", kwargs={"team_id": world.team.pk})


def _error_block(body: str) -> str:
    """The username field's error, as rendered."""
    match = re.search(r'<small class="field-error" id="id_username-error" role="alert">(.*?)</small>',
                      body, re.S)
    assert match, body
    return match.group(1).strip()


# Inviting a new person ------------------------------------------------------------


def test_it_invites_a_new_user_with_a_one_time_password(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post(_members_url(world), {"username": "newbie", "role": "editor"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    password = re.search(r'<code id="invited-password" class="secret">([^<]+)</code>', body)
    assert password, body
    user = User.objects.get(username="newbie")
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert user.check_password(password.group(1))
    assert Membership.objects.get(user=user, team=world.team).role == Role.EDITOR
    events = AuditEvent.objects.filter(team=world.team, actor=world.admin).order_by("id")
    assert [(e.verb, e.after.get("user")) for e in events] == [
        ("user.create", "newbie"), ("member.add", "newbie")]
    assert events[1].after["role"] == "editor"
    # Shown once: the next visit to the page has no password on it.
    again = client.get(_members_url(world)).content.decode()
    assert password.group(1) not in again
    assert "newbie" in again

    # The new member logs in with it and lands in the team.
    newcomer = Client()
    assert newcomer.login(username="newbie", password=password.group(1))
    page = newcomer.get(reverse("project_detail", kwargs={"project_id": world.project.pk}))
    assert page.status_code == 200


@pytest.mark.parametrize("taken", ["outsider", "OUTSIDER", "loner", "gone", "root"])
def test_it_gives_one_neutral_refusal_for_any_existing_username(
    client: Client, world: World, taken: str
) -> None:
    UserFactory(username="loner")  # in no team
    gone = UserFactory(username="gone")
    gone.is_active = False
    gone.save()
    User.objects.create_superuser("root", "root@example.test", "x-Pass-12345")
    users_before = User.objects.count()

    client.force_login(world.admin)
    response = client.post(_members_url(world), {"username": taken, "role": "editor"})
    assert response.status_code == 200
    body = response.content.decode()
    # Byte for byte the same whatever the reason (HTML-escaped apostrophe included).
    assert _error_block(body) == "That username can&#x27;t be added; choose another, or ask the person&#x27;s team admin / an operator."
    assert "invited-password" not in body
    assert User.objects.count() == users_before
    assert not Membership.objects.filter(team=world.team, user__username__iexact=taken).exists()
    assert not AuditEvent.objects.filter(verb__in=["user.create", "member.add"]).exists()


def test_it_says_plainly_when_the_person_is_already_in_the_team(
    client: Client, world: World
) -> None:
    client.force_login(world.admin)
    response = client.post(_members_url(world), {"username": "editor-a", "role": "marketer"})
    assert "editor-a is already a member of this team." in response.content.decode()
    assert world.memberships["editor"].role == Role.EDITOR


def test_it_refuses_an_invalid_username_without_creating_anyone(
    client: Client, world: World
) -> None:
    client.force_login(world.admin)
    users_before = User.objects.count()
    for bad in ("bad name!", "<script>x</script>", ""):
        response = client.post(_members_url(world), {"username": bad, "role": "editor"})
        assert response.status_code == 200
        body = response.content.decode()
        assert 'class="field-error"' in body
        assert "<script>x</script>" not in body
    assert User.objects.count() == users_before


def test_it_ignores_extra_fields_in_the_invite_form(client: Client, world: World) -> None:
    client.force_login(world.admin)
    client.post(_members_url(world), {"username": "sneaky", "role": "marketer",
                                      "is_superuser": "on", "is_staff": "on",
                                      "team": world.other_team.pk})
    user = User.objects.get(username="sneaky")
    assert not user.is_superuser and not user.is_staff
    assert list(user.memberships.values_list("team_id", "role")) == [
        (world.team.pk, Role.MARKETER)]


@pytest.mark.parametrize(("role", "outcome"), [
    ("admin", None), ("editor", PermissionDenied), ("marketer", PermissionDenied),
    ("outsider", Http404),
])
def test_it_lets_only_team_admins_invite(world: World, role: str, outcome: Any) -> None:
    actor = world.user(role)
    if outcome is None:
        membership, password = member_invite(user=actor, team_id=world.team.pk,
                                             username="fresh", role="marketer")
        assert membership.team == world.team and password
    else:
        with pytest.raises(outcome):
            member_invite(user=actor, team_id=world.team.pk, username="fresh", role="marketer")
        assert not User.objects.filter(username="fresh").exists()


def test_it_refuses_an_unknown_role_on_invite(world: World) -> None:
    with pytest.raises(ValidationError, match="Unknown role"):
        member_invite(user=world.admin, team_id=world.team.pk, username="fresh", role="owner")
    assert not User.objects.filter(username="fresh").exists()


def test_the_service_refuses_existing_usernames_with_the_neutral_message(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        member_invite(user=world.admin, team_id=world.team.pk, username="outsider",
                      role="editor")
    assert info.value.message_dict == {"username": [USERNAME_REFUSED]}


# Adding an existing user: operators only ------------------------------------------


def test_team_admins_cannot_add_existing_users(world: World) -> None:
    with pytest.raises(PermissionDenied):
        member_add(user=world.admin, team_id=world.team.pk, username="outsider", role="editor")
    assert not Membership.objects.filter(user=world.outsider, team=world.team).exists()


def test_an_operator_adds_an_existing_user_with_an_audit_row(world: World, admin_user: Any) -> None:
    membership = member_add(user=admin_user, team_id=world.team.pk, username="outsider",
                            role="editor")
    assert (membership.user, membership.team, membership.role) == (
        world.outsider, world.team, Role.EDITOR)
    event = AuditEvent.objects.get(verb="member.add")
    assert (event.actor, event.team, event.after) == (
        admin_user, world.team, {"user": "outsider", "role": "editor"})
