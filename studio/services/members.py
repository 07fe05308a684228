from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

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
