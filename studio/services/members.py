from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.text import slugify

from studio.models import Membership, Role, Team
from studio.permissions import Need, membership_for_user, team_for_user
from studio.services.accounts import password_one_time_set
from studio.services.audit import audit_record
from studio.services.errors import WrongState

# One message for every username a team admin may not take, whatever the reason (a
# user of another team, of no team, deactivated, an operator): see member_invite.
USERNAME_REFUSED = (
    "That username can't be added; choose another, or ask the person's team admin / "
    "an operator."
)


def is_operator(user: Any) -> bool:
    """An operator runs the install (a Django superuser): acts on any team, without a role."""
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def _team_for_actor(user: Any, team_id: int) -> Team:
    if is_operator(user):
        try:
            return Team.objects.get(pk=team_id)
        except Team.DoesNotExist as exc:
            raise Http404("Not found") from exc
    return team_for_user(user, team_id, need=Need.ADMIN)


def _membership_for_actor(user: Any, membership_id: int) -> Membership:
    if is_operator(user):
        try:
            return Membership.objects.select_related("team", "user").get(pk=membership_id)
        except Membership.DoesNotExist as exc:
            raise Http404("Not found") from exc
    return membership_for_user(user, membership_id, need=Need.ADMIN)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})


def _other_admins(membership: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )


def member_invite(
    *, user: Any, team_id: int, username: str, role: str, email: str = ""
) -> tuple[Membership, str]:
    """Create a new user and make them a member of the team (team admins and operators).

    Returns the membership and the new user's generated one-time password, to be shown
    once to the inviting admin, who hands it over. It works for one sign-in, which
    leads straight to choosing a new password (``password_one_time_use``). Writes two audit rows: ``user.create`` and ``member.add``.

    A team admin can only bring in *new* people. A username that is already taken —
    matched case-insensitively, so ``Alice`` cannot shadow ``alice`` — is refused with
    the one neutral message ``USERNAME_REFUSED``, whether the account belongs to another
    team, to no team, is deactivated or is an operator. So an admin learns no more
    about other accounts than a signup form's "name taken" would tell anyone, and
    nobody is added to a team without their say: someone who already has an account
    is added by an operator (Django admin → Memberships, which calls ``member_add``).
    Only "already a member of this team" is said plainly: the admin sees that list.
    """
    team = _team_for_actor(user, team_id)
    _check_role(role)
    username = username.strip()
    User = get_user_model()
    if Membership.objects.filter(team=team, user__username__iexact=username).exists():
        raise ValidationError({"username": f"{username} is already a member of this team."})
    new_user = User(username=username, email=email.strip(), is_active=True)
    # Field rules first (length, characters): they say nothing about other accounts.
    new_user.full_clean(exclude=["password"], validate_unique=False)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": USERNAME_REFUSED})
    password = secrets.token_urlsafe(12)
    new_user.set_password(password)
    try:
        with transaction.atomic():
            new_user.save()
            password_one_time_set(user=new_user)
            membership = Membership.objects.create(user=new_user, team=team, role=role)
            audit_record(actor=user, team=team, verb="user.create", obj=new_user,
                         after={"user": username, "via": "invite"})
            audit_record(actor=user, team=team, verb="member.add", obj=membership,
                         after={"user": username, "role": role, "new_user": True})
    except IntegrityError as exc:
        # Someone took the name between the check and the insert.
        raise ValidationError({"username": USERNAME_REFUSED}) from exc
    return membership, password


def member_add(*, user: Any, team_id: int, username: str, role: str) -> Membership:
    """Add an existing user to a team with a role: operators only (the Django admin).

    Team admins invite new people with ``member_invite`` instead; they cannot pull an
    existing account into their team, nor learn whether one exists.
    """
    if not is_operator(user):
        raise PermissionDenied("Only an operator adds existing users to a team.")
    team = _team_for_actor(user, team_id)
    _check_role(role)
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
    """Change a member's role (team admins and operators); a team always keeps an admin."""
    _check_role(role)
    membership = _membership_for_actor(user, membership_id)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = membership.role
        if before == role:
            return membership
        if before == Role.ADMIN and _other_admins(membership) == 0:
            raise WrongState("A team needs at least one admin: make someone else admin first.",
                             field="role")
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(actor=user, team=membership.team, verb="member.role", obj=membership,
                     before={"user": membership.user.username, "role": before},
                     after={"user": membership.user.username, "role": role})
    return membership


def member_remove(*, user: Any, membership_id: int) -> None:
    """Remove a member (team admins and operators); their sessions lose access at once
    (membership is checked per request). A team always keeps an admin."""
    membership = _membership_for_actor(user, membership_id)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN and _other_admins(membership) == 0:
            raise WrongState("A team needs at least one admin: you cannot remove the last one.",
                             field="role")
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
            password_one_time_set(user=admin)
        elif not admin.is_active:
            raise ValidationError({"admin": f"The user {admin_username!r} is deactivated."})
        team = Team.objects.create(name=name, slug=slug)
        membership = Membership.objects.create(user=admin, team=team, role=Role.ADMIN)
        audit_record(actor=None, team=team, verb="team.create", obj=team,
                     after={"name": name, "admin": admin_username})
        audit_record(actor=None, team=team, verb="member.add", obj=membership,
                     after={"user": admin_username, "role": Role.ADMIN})
    return team, password
