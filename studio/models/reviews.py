from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.models.fields import UserTextField

from .drafts import Draft


class ReviewAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_EDITED = "approve_edited", "Approve with edits"
    REJECT = "reject", "Reject"
    EDIT = "edit", "Save edit"


REJECT_REASONS = {
    "off_brand": "Off-brand",
    "factual_error": "Factual error",
    "tone": "Tone",
    "too_long": "Too long",
    "unsafe": "Unsafe",
    "other": "Other",
}


class Review(models.Model):
    """One decision or saved edit on a draft. Append-only: never updated or deleted."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    action = models.CharField(max_length=20, choices=ReviewAction.choices)
    final_text = UserTextField(blank=True)
    reason_tags = models.JSONField(default=list, blank=True)
    comment = UserTextField(blank=True, max_length=4000)
    draft_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "draft_version"], name="review_one_per_draft_version"
            ),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.action} on {self.draft_id} by {self.reviewer_id}"
