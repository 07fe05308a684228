from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from studio.models import Membership, Role, Team
from studio.permissions import Need, membership_for_user, team_for_user
from studio.services.audit import audit_record


def _other_admins(membership: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )


def member_add(*, user: Any, team_id: int, username: str, role: str) -> Membership:
    """Add an existing user to the team with a role (admins only)."""
    team: Team = team_for_user(user, team_id, need=Need.ADMIN)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    User = get_user_model()
    try:
        new_user = User.objects.get(username=username, is_active=True)
    except User.DoesNotExist as exc:
        raise ValidationError({"username": f"No active user is called {username!r}."}) from exc
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=new_user, team=team, defaults={"role": role}
        )
        if not created:
            raise ValidationError({"username": f"{username} is already a member of this team."})
        audit_record(actor=user, team=team, verb="member.add", obj=membership,
                     after={"user": username, "role": role})
    return membership


def member_set_role(*, user: Any, membership_id: int, role: str) -> Membership:
    """Change a member's role; a team always keeps at least one admin."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership = membership_for_user(user, membership_id, need=Need.ADMIN)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = membership.role
        if before == role:
            return membership
        if before == Role.ADMIN and _other_admins(membership) == 0:
            raise ValidationError(
                {"role": "A team needs at least one admin: make someone else admin first."}
            )
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(actor=user, team=membership.team, verb="member.role", obj=membership,
                     before={"user": membership.user.username, "role": before},
                     after={"user": membership.user.username, "role": role})
    return membership


def member_remove(*, user: Any, membership_id: int) -> None:
    """Remove a member; their sessions lose access at once (membership is checked per request)."""
    membership = membership_for_user(user, membership_id, need=Need.ADMIN)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN and _other_admins(membership) == 0:
            raise ValidationError(
                {"role": "A team needs at least one admin: you cannot remove the last one."}
            )
        audit_record(actor=user, team=membership.team, verb="member.remove", obj=membership,
                     before={"user": membership.user.username, "role": membership.role})
        membership.delete()


def team_create(*, name: str, admin_username: str, admin_email: str = "") -> tuple[Team, str]:
    """Create a team with its first admin (an operator's action: no acting user).

    The admin is an existing active user, or a new one; a new user gets a generated
    password, returned (else ``""``) so it can be shown once. The slug comes from the
    name and is made unique. All or nothing.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    if len(name) > Team._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"name": "Team names are at most 120 characters."})
    base = slugify(name)[:50] or "team"
    User = get_user_model()
    with transaction.atomic():
        if Team.objects.filter(name__iexact=name).exists():
            raise ValidationError({"name": f"A team called {name!r} already exists."})
        slug, n = base, 1
        while Team.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        password = ""
        admin = User.objects.filter(username=admin_username).first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = User(username=admin_username, email=admin_email)
            admin.set_password(password)
            admin.full_clean(exclude=["password"])
            admin.save()
        elif not admin.is_active:
            raise ValidationError({"admin": f"The user {admin_username!r} is deactivated."})
        team = Team.objects.create(name=name, slug=slug)
        membership = Membership.objects.create(user=admin, team=team, role=Role.ADMIN)
        audit_record(actor=None, team=team, verb="team.create", obj=team,
                     after={"name": name, "admin": admin_username})
        audit_record(actor=None, team=team, verb="member.add", obj=membership,
                     after={"user": admin_username, "role": Role.ADMIN})
    return team, password
