from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.models.fields import UserCharField


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    MARKETER = "marketer", "Marketer"


# What each role may do, highest first; a role includes the ones after it only where
# the permission module says so (an editor is not a marketer, an admin is both).
ROLE_RANK = {Role.ADMIN: 3, Role.EDITOR: 2, Role.MARKETER: 1}


class Team(models.Model):
    """The tenant: members, projects, data and models of a team are invisible to others."""

    name = UserCharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a generation worker last took one of this team's jobs: workers take the next
    # job from the team served longest ago, so teams are served in turn.
    generation_turn_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_user_team_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "editor", "marketer"]),
                name="membership_role_valid",
            ),
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
