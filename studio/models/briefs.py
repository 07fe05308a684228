from __future__ import annotations

from django.conf import settings
from django.db import models

from generation.prompts import KINDS
from generation.prompts.kinds import AdCopyTemplate
from studio.models.fields import UserCharField, UserJSONField, UserTextField

from .jobs import JobQuerySet
from .projects import Project

MAX_VARIANTS = 8
TITLE_MAX = 200
INSTRUCTIONS_MAX = 8000
SOURCE_TEXT_MAX = 100_000


def kind_choices() -> list[tuple[str, str]]:
    """Every registered content kind as (name, label): the prompt templates'
    registry (generation.prompts.KINDS) is the one list of kinds."""
    return [(spec.name, spec.label) for spec in KINDS.values()]


def kind_names() -> list[str]:
    return list(KINDS)


class Brief(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        IN_REVIEW = "in_review", "In review"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Its run was cancelled before any draft was written.
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="briefs")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="briefs"
    )
    # Choices from the template registry, checked by the kind's form; no DB constraint,
    # so adding a kind needs no migration.
    kind = models.CharField(max_length=20, choices=kind_choices)
    title = UserCharField(max_length=TITLE_MAX)
    instructions = UserTextField(blank=True, max_length=INSTRUCTIONS_MAX)
    audience = UserCharField(max_length=300, blank=True)
    tone = UserCharField(max_length=120, blank=True)
    keywords = UserJSONField(default=list, blank=True)
    source_text = UserTextField(blank=True, max_length=SOURCE_TEXT_MAX)
    target_words = models.PositiveIntegerField(null=True, blank=True)
    variants = models.PositiveSmallIntegerField(default=1)
    # Fields only some kinds have (ad copy: product, channel, call to action; …).
    extra = UserJSONField(default=dict, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # The editor its drafts go to (a regenerated job's drafts too); empty: none, or the
    # project's round-robin picks one per job.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(variants__gte=1, variants__lte=MAX_VARIANTS),
                name="brief_variants_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "generating", "in_review", "done", "failed",
                                               "cancelled"]),
                name="brief_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status", "-created_at"]),
            # The review queue puts drafts of briefs with a deadline first, soonest first.
            models.Index(
                fields=["deadline"],
                condition=models.Q(deadline__isnull=False),
                name="brief_deadline",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def takes_ad_results(self) -> bool:
        """Marketers report how the picked variants ran: ad copy only."""
        return self.kind == AdCopyTemplate.name


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Failure(models.TextChoices):
        """Why a job failed, in words for everyone (``error`` holds the technical text,
        for admins). See ``studio.selectors.generation.job_problem``."""

        MODEL = "model", "The model version could not be loaded"
        BASE_MODEL = "base_model", "The base model could not be loaded"
        BRIEF = "brief", "The brief could not be written as it is"
        GAVE_UP = "gave_up", "Stopped on every attempt"
        ERROR = "error", "Unexpected error"

    brief = models.ForeignKey(Brief, on_delete=models.CASCADE, related_name="jobs")
    model_version = models.ForeignKey(
        "studio.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="generation_jobs",
        help_text="Empty: the project's base model without an adapter",
    )
    base_model = models.CharField(max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    variants = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress_done = models.PositiveSmallIntegerField(default=0)
    # The technical error (admins see it); ``failure`` says it in plain words.
    error = models.TextField(blank=True)
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True)
    # The error each attempt ended with ({"attempt": n, "error": text}, the last few),
    # so a job that gives up reports its last real error, not only that it stopped.
    attempt_errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who holds the job: the claim token is new for every claim, so a worker that lost
    # its claim (it stalled and the reconciler handed the job on) cannot save drafts.
    worker = models.CharField(max_length=200, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(variants__gte=1, variants__lte=MAX_VARIANTS),
                name="job_variants_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed",
                                               "cancelled"]),
                name="job_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job {self.pk} for brief {self.brief_id}"
