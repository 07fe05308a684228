"""Reads of a person's notifications: their own, of the teams they are still in."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from studio.models import Notification
from studio.permissions import teams_visible_to


def notifications_visible_to(user: Any) -> QuerySet[Notification]:
    """The user's notifications shown in the studio (a removed member's old team's go)."""
    return Notification.objects.filter(recipient_id=user.pk, in_app=True,
                                       team__in=teams_visible_to(user))


def unread_count(user: Any) -> int:
    return notifications_visible_to(user).filter(read_at__isnull=True).count()
