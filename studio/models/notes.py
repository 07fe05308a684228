from __future__ import annotations

from django.conf import settings
from django.db import models

from generation import notes

from .projects import Project


class PreferenceNote(models.Model):
    """An admin's decision on a proposed preference note (``generation.notes``).

    Proposals are mined from the project's edits whenever they are asked for; a row
    exists once an admin accepted (maybe after editing) or dismissed one. The
    ``proposed_*`` texts are the proposal as mined, so a dismissed or edited proposal is
    not proposed again; ``before``/``after`` are the texts in force. Accepted notes act
    as style rules at once (``studio.selectors.notes.project_voice``).
    """

    class Kind(models.TextChoices):
        REPLACE = notes.REPLACE, "Swap a phrase"
        DELETE = notes.DELETE, "Leave out a phrase"
        ADD_END = notes.ADD_END, "End with"
        ADD_START = notes.ADD_START, "Start with"
        ADD = notes.ADD, "Include"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    proposed_before = models.CharField(max_length=notes.NOTE_TEXT_MAX, blank=True)
    proposed_after = models.CharField(max_length=notes.NOTE_TEXT_MAX, blank=True)
    before = models.CharField(max_length=notes.NOTE_TEXT_MAX, blank=True)
    after = models.CharField(max_length=notes.NOTE_TEXT_MAX, blank=True)
    # Drafts whose edits made the change when the admin decided.
    count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "proposed_before", "proposed_after"],
                name="preference_note_unique_proposal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} note {self.pk}"

    @property
    def rules(self) -> tuple[list[str], list[str]]:
        """The style-rule lines the note adds: (must, must not)."""
        return notes.note_rules(self.kind, self.before, self.after)
