from __future__ import annotations

from django.conf import settings
from django.db import models

from .teams import Team


class NotificationKind(models.TextChoices):
    DRAFTS_READY = "drafts_ready", "Drafts ready on my brief"
    DRAFTS_OVERDUE = "drafts_overdue", "Drafts waiting past their deadline"
    DECISION = "decision", "Decision on my brief"
    TRAINING = "training", "Training finished and its verdict"


class Notification(models.Model):
    """One event told to one person, in the studio and (per their preference) by e-mail.

    ``event_key`` names the event (``drafts_ready:job:12``): unique with the recipient,
    so an event retried, re-run or raced is told once.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    event_key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False, help_text="To be (or was) sent by e-mail")
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event_key"],
                                    name="notification_once_per_event"),
        ]
        indexes = [models.Index(fields=["recipient", "in_app", "read_at", "-created_at"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"


class NotificationPreference(models.Model):
    """What a person wants told, per kind; no row: in the studio and by e-mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_pref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: in app {self.in_app}, e-mail {self.email}"
