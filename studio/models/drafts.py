from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.models.fields import UserTextField

from .briefs import GenerationJob


class Draft(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="drafts")
    # Denormalised from the job so the review queue filters and orders without joins.
    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="drafts"
    )
    variant = models.PositiveSmallIntegerField()
    text = models.TextField(help_text="Exactly as generated")
    current_text = UserTextField(help_text="The text as last saved by an editor")
    prompt = models.TextField()
    params = models.JSONField(default=dict)
    seed = models.BigIntegerField()
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    flags = models.JSONField(default=list, blank=True)
    flag_codes = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    ab_pick = models.BooleanField(default=False, help_text="Marked by the marketer to run")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The editor expected to review it (by hand, or round-robin per project); a hint
    # for the queue's "my queue" and "unassigned" views, not a lock: the claim is.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # How the draft was decided, stored with the decision so a model version's edit cost
    # is a SQL aggregate: the deciding review's action ("approve", "approve_edited",
    # "reject"; blank while pending) and, for an approval, the edit distance from the
    # model's text to the approved text in generation.editcost units, the longer text's
    # length in those units, and their ratio (0 = approved as written, 1 = rewritten).
    decision = models.CharField(max_length=20, blank=True)
    edit_distance = models.PositiveIntegerField(null=True, blank=True)
    edit_units = models.PositiveIntegerField(null=True, blank=True)
    edit_cost = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "variant"], name="draft_job_variant_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "rejected"]),
                name="draft_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status", "created_at"]),
            # The review queue walks pending drafts oldest first across a team's projects.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(status="pending"),
                name="draft_pending_age",
            ),
            # Edit cost per project over time (models page, API).
            models.Index(
                fields=["project", "decided_at"],
                condition=models.Q(decided_at__isnull=False),
                name="draft_decided",
            ),
        ]
        ordering = ["job_id", "variant"]

    def __str__(self) -> str:
        return f"draft {self.variant + 1} of job {self.job_id}"
