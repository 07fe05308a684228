from __future__ import annotations

from django.conf import settings
from django.db import models

from .jobs import JobQuerySet
from .projects import Project


class TrainingExample(models.Model):
    class Kind(models.TextChoices):
        SFT = "sft", "Approved text"
        PREFERENCE = "preference", "Preference pair"
        NEGATIVE = "negative", "Rejected text"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="examples")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    content_kind = models.CharField(max_length=20)
    prompt = models.JSONField(help_text="Chat messages the draft was generated from")
    completion = models.TextField()
    rejected_completion = models.TextField(blank=True)
    reason_tags = models.JSONField(default=list, blank=True)
    # A foreign key, not one-to-one: an approval with edits makes two examples from one
    # review (the approved text for SFT and the edited/model pair for preference training).
    source_review = models.ForeignKey(
        "studio.Review", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="training_examples",
    )
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "kind", "excluded"])]

    def __str__(self) -> str:
        return f"{self.kind} example {self.pk}"


class DatasetSnapshot(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshots")
    content_hash = models.CharField(max_length=64)
    counts = models.JSONField(default=dict)
    path = models.CharField(max_length=500)
    # The TrainingExample ids the snapshot was built from, ascending, so that it can be
    # rebuilt (``snapshot_rebuild``) even after examples are excluded or added. Null for
    # snapshots made before the ids were kept. A JSON list: thousands of ids are a few
    # tens of kilobytes, read only on a rebuild.
    example_ids = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="snapshot_hash_unique_in_project"
            )
        ]

    def __str__(self) -> str:
        return f"snapshot {self.content_hash[:12]}"


class TrainingJob(models.Model):
    class Method(models.TextChoices):
        SFT = "sft", "LoRA SFT"
        SFT_DPO = "sft_dpo", "LoRA SFT, then DPO on edits"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.SFT)
    # The base model spec the job trains on, fixed when it starts: changing the project's
    # base model later changes neither this run (nor a resumed one) nor its version's record.
    base_model = models.CharField(max_length=300, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss_curve = models.JSONField(default=list, blank=True)
    log_tail = models.TextField(blank=True)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    checkpoint_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # "sft" or "dpo": step / total_steps count within this phase.
    phase = models.CharField(max_length=8, blank=True)
    # The worker run that owns the job (claimed by a conditional UPDATE) and its last
    # sign of life: a job running without a heartbeat for TRAINING_STUCK_AFTER is re-sent.
    claim_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One active job per project: a second is refused by the database itself.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_training_job_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"training job {self.pk}"

    @property
    def effective_base_model(self) -> str:
        """The base model the job trains on: the one recorded when it started; jobs from
        before it was recorded (and still queued then: pinned by migration 0005) fall
        back to the project's."""
        return self.base_model or self.project.effective_base_model


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        LIVE = "live", "Live"
        ARCHIVED = "archived", "Archived"
        FAILED = "failed", "Failed"

    class LoadCheck(models.TextChoices):
        """Whether the serving loader loads the adapter and writes with it
        (``generation.engine.Engine.check_adapter``): run by the training task when it
        registers the version, again on an admin's request by a generation worker, and
        set to failed when a generation worker cannot load the version."""

        UNCHECKED = "unchecked", "Not checked"
        PENDING = "pending", "Checking"
        OK = "ok", "Loads and writes"
        FAILED = "failed", "Cannot be loaded"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    base_model = models.CharField(max_length=300)
    # hf: the pinned revision; bundled: the wheel's version; local: a short sha256 of the
    # folder's config.json (generation.models.model_revision). Empty for older versions.
    base_revision = models.CharField(max_length=300, blank=True)
    adapter_path = models.CharField(max_length=500, blank=True)
    adapter_sha256 = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    snapshot = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    training_job = models.OneToOneField(
        TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="version"
    )
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # The last load check: promote needs "ok" (studio.services.training).
    load_check = models.CharField(max_length=16, choices=LoadCheck.choices,
                                  default=LoadCheck.UNCHECKED)
    load_check_error = models.TextField(blank=True)
    load_checked_at = models.DateTimeField(null=True, blank=True)
    # Where and with what it was checked: {"where", "libraries", "sample", "seconds",
    # "base_model"}.
    load_check_info = models.JSONField(default=dict, blank=True)
    # The promotion gate (generation.gate.GateReport.to_dict): the candidate's and the
    # replaced version's drafts on the snapshot's held-out briefs, their edit costs against
    # the approved texts, flag rates, eval losses, the paired-bootstrap interval and the
    # verdict. Empty for versions made before the gate: they promote as before.
    gate = models.JSONField(default=dict, blank=True)
    # An admin's "promote anyway" over a gate that did not pass: {"by", "by_id", "at",
    # "reason", "verdict"}. Also in the audit row of the promotion.
    gate_override = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"], name="model_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status="live"),
                name="one_live_version_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"

    @property
    def gate_passed(self) -> bool | None:
        """True or False once the gate ran; None for versions from before the gate."""
        return bool(self.gate.get("passed")) if self.gate else None
