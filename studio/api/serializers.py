"""API shapes. Input serializers only parse (types, known fields); every business rule —
lengths, kinds, reasons, versions, roles — is checked by the service they feed, the same
one the pages call. Output serializers are read-only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers

from studio.models import (
    Brief,
    DatasetSnapshot,
    Draft,
    GenerationJob,
    ModelVersion,
    Notification,
    Project,
    Review,
    TrainingExample,
    TrainingJob,
)
from studio.models.briefs import kind_choices
from studio.models.reviews import REJECT_REASONS
from studio.selectors.briefs import BRIEF_FILTERS
from studio.selectors.filters import FilterField
from studio.selectors.generation import JobProblem, job_problem
from studio.selectors.reviews import DRAFT_LIST_FILTERS
from studio.selectors.training import EXAMPLE_FILTERS, EXPORT_FORMATS
from studio.services.reviews import BULK_ACTIONS, BULK_MAX, DecisionOutcome
from studio.validators import plain_text, validate_plain_text

from .base import ETAG_HELP, StrictSerializer, etag_version


class PlainTextField(serializers.CharField):
    """Text under the studio's one input policy (``studio.validators``): ``\r`` becomes
    ``\n``, control characters are refused with the same message as on the pages."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators
                           if not isinstance(v, ProhibitNullCharactersValidator)]
        self.validators.append(validate_plain_text)

    def to_internal_value(self, data: Any) -> str:
        return plain_text(super().to_internal_value(data))


class AllowlistField(serializers.ChoiceField):
    """A choice whose choices are read when a serializer is made (declared fields are
    copied by re-running ``__init__``), so a kind registered later counts."""

    def __init__(self, choices_from: Callable[[], Sequence[Any]], **kwargs: Any) -> None:
        super().__init__(choices=choices_from(), **kwargs)


def query_field(definition: FilterField) -> serializers.Field:
    """A query parameter of the API, made from the list's one definition of it."""
    help_text = definition.help or None
    if definition.choices is not None:
        return AllowlistField(definition.choices, required=False, help_text=help_text)
    if definition.pattern is not None:
        return serializers.RegexField(rf"^({definition.pattern})$", required=False,
                                      help_text=help_text)
    return serializers.CharField(required=False, allow_blank=True,
                                 max_length=definition.max_length, help_text=help_text)


def filter_serializer(name: str, doc: str, fields: Sequence[FilterField],
                      **more: serializers.Field) -> type[serializers.Serializer]:
    """The query parameters of a paged list: its filters (400 for a value they do not
    allow), ``more`` fields, and ``page``."""
    declared = {f.name: query_field(f) for f in fields}
    page = serializers.IntegerField(required=False, min_value=1, max_value=10**9)
    return type(name, (serializers.Serializer,),
                {"__doc__": doc, **declared, **more, "page": page})


class KindChoiceField(serializers.ChoiceField):
    """A content kind: its choices are read from the template registry each time a
    serializer is made (declared fields are copied by re-running ``__init__``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=kind_choices(), **kwargs)


# Projects ---------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = Project
        fields = [
            "id", "team", "team_name", "name", "language", "brand_voice", "style_must",
            "style_must_not",
            "banned_terms", "never_claims", "base_model", "live_model",
            "auto_retrain_threshold", "auto_promote", "auto_assign", "created_at", "updated_at",
        ]
        read_only_fields = fields


class ProjectSettingsInputSerializer(StrictSerializer):
    """PATCH body: any subset of the settings an admin may change on the settings page."""

    name = PlainTextField(required=False)
    # Checked by the service against the registered languages.
    language = serializers.CharField(required=False, max_length=16,
                                     help_text="Content language: en or zh-hans.")
    brand_voice = PlainTextField(required=False, allow_blank=True, trim_whitespace=False)
    style_must = PlainTextField(required=False, allow_blank=True, trim_whitespace=False)
    style_must_not = PlainTextField(required=False, allow_blank=True,
                                           trim_whitespace=False)
    banned_terms = PlainTextField(required=False, allow_blank=True)
    never_claims = PlainTextField(required=False, allow_blank=True, trim_whitespace=False,
                                  help_text="Claims the brand must never make, one a line.")
    auto_retrain_threshold = serializers.IntegerField(required=False, allow_null=True,
                                                      min_value=0, max_value=2**31 - 1)
    auto_promote = serializers.BooleanField(required=False)
    auto_assign = serializers.BooleanField(
        required=False, help_text="true: each brief's new drafts go to the team's editors in turn")
    # Checked by the service (URL form, public address); empty turns webhooks off.
    webhook_url = PlainTextField(required=False, allow_blank=True, max_length=500)
    rotate_webhook_secret = serializers.BooleanField(
        required=False, default=False,
        help_text="true: replace the webhook signing secret (the answer shows the new one)",
    )


class ProjectSettingsSerializer(ProjectSerializer):
    """The answer to an admin's settings PATCH: the project plus its webhook URL and the
    secret that signs deliveries (never shown to other roles)."""

    # A plain string, not format "uri": an empty value means "no webhooks".
    webhook_url = serializers.CharField(read_only=True, help_text="Empty: no webhooks.")

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "webhook_url", "webhook_secret"]
        read_only_fields = fields


# Briefs and generation jobs ---------------------------------------------------------------


class BriefInputSerializer(StrictSerializer):
    """POST body of a brief. Kind-specific fields (ad copy's product, channel and
    call_to_action; an outline's chapters…) go in ``extra``; the kind's form checks all."""

    kind = KindChoiceField()
    title = PlainTextField(allow_blank=True, trim_whitespace=False)
    instructions = PlainTextField(required=False, allow_blank=True, trim_whitespace=False)
    audience = PlainTextField(required=False, allow_blank=True)
    tone = PlainTextField(required=False, allow_blank=True)
    keywords = serializers.ListField(child=PlainTextField(allow_blank=True),
                                     required=False, max_length=100)
    source_text = PlainTextField(required=False, allow_blank=True, trim_whitespace=False)
    target_words = serializers.IntegerField(required=False, allow_null=True,
                                            min_value=-(2**31), max_value=2**31 - 1)
    variants = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    extra = serializers.DictField(child=PlainTextField(allow_blank=True), required=False)


class RegenerateSerializer(StrictSerializer):
    replace = serializers.BooleanField(
        default=False, help_text="While a run is queued or running: cancel it and start "
        "again (without it the answer is 409).")


class GenerationJobSerializer(serializers.ModelSerializer):
    """A generation job. ``error`` is a plain sentence for every member; the technical
    error is ``error_detail``, given to the team's admins only. The view passes
    ``project`` and ``is_admin`` in the context (without them: no details)."""

    failure = serializers.ChoiceField(
        choices=GenerationJob.Failure.choices, allow_blank=True, read_only=True,
        help_text="Why the job failed, as a code (empty unless it failed).")
    error = serializers.SerializerMethodField(
        help_text="What went wrong, in plain words (empty when nothing did).")
    error_detail = serializers.SerializerMethodField(
        help_text="The technical error, for the team's admins (null for other roles).")

    class Meta:
        model = GenerationJob
        fields = [
            "id", "brief", "status", "model_version", "base_model", "variants", "seed",
            "attempts", "progress_done", "failure", "error", "error_detail", "created_at",
            "sent_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    def _problem(self, job: GenerationJob) -> JobProblem | None:
        project = self.context.get("project") or job.brief.project
        return job_problem(job=job, project=project, is_admin=bool(self.context.get("is_admin")))

    def get_error(self, job: GenerationJob) -> str:
        problem = self._problem(job)
        return problem.message if problem else ""

    def get_error_detail(self, job: GenerationJob) -> str | None:
        if not self.context.get("is_admin"):
            return None
        return job.error


class PartialVariantSerializer(serializers.Serializer):
    variant = serializers.IntegerField()
    text = serializers.CharField(help_text="Written so far: not checked, not a draft.")
    tokens = serializers.IntegerField(help_text="Tokens written so far.")
    max = serializers.IntegerField(help_text="The variant's token budget.")


class GenerationJobLiveSerializer(serializers.Serializer):
    """A job while it waits or writes. Queued: ``position`` (1 = next) and ``wait_s``.
    Running: each variant's text so far, ``elapsed_s`` and ``left_s`` (at most, at the
    current speed). Other statuses: only ``id`` and ``status``; the drafts are on the
    brief."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=GenerationJob.Status.choices)
    position = serializers.IntegerField(allow_null=True)
    wait_s = serializers.FloatField(allow_null=True)
    elapsed_s = serializers.FloatField(allow_null=True)
    left_s = serializers.FloatField(allow_null=True)
    variants = PartialVariantSerializer(many=True)


class BriefListSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    pending = serializers.IntegerField(read_only=True)
    approved = serializers.IntegerField(read_only=True)

    class Meta:
        model = Brief
        fields = ["id", "project", "kind", "title", "status", "variants", "deadline", "author",
                  "created_at", "pending", "approved"]
        read_only_fields = fields


class JobDraftSerializer(serializers.ModelSerializer):
    class Meta:
        model = Draft
        fields = ["id", "variant", "status", "version", "ab_pick", "flag_codes", "created_at"]
        read_only_fields = fields


class BriefJobSerializer(GenerationJobSerializer):
    drafts = JobDraftSerializer(many=True, read_only=True)

    class Meta(GenerationJobSerializer.Meta):
        fields = [*GenerationJobSerializer.Meta.fields, "drafts"]
        read_only_fields = fields


class BriefSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    assigned_to = serializers.CharField(source="assigned_to.username", read_only=True,
                                        allow_null=True, default=None)

    class Meta:
        model = Brief
        fields = [
            "id", "project", "kind", "title", "instructions", "audience", "tone", "keywords",
            "source_text", "target_words", "variants", "extra", "deadline", "status", "author",
            "assigned_to", "created_at", "updated_at",
        ]
        read_only_fields = fields


class BriefDetailSerializer(BriefSerializer):
    # The view sets ``page_jobs`` from the brief_page selector (newest first, drafts
    # prefetched in variant order).
    jobs = BriefJobSerializer(source="page_jobs", many=True, read_only=True)

    class Meta(BriefSerializer.Meta):
        fields = [*BriefSerializer.Meta.fields, "jobs"]
        read_only_fields = fields


class BriefCreatedSerializer(BriefSerializer):
    job = GenerationJobSerializer(read_only=True)

    class Meta(BriefSerializer.Meta):
        fields = [*BriefSerializer.Meta.fields, "job"]
        read_only_fields = fields


# Drafts and reviews -------------------------------------------------------------------


BriefFilterSerializer = filter_serializer(
    "BriefFilterSerializer", "Query parameters of a project's brief list (the brief desk's filters).",
    BRIEF_FILTERS,
)
DraftFilterSerializer = filter_serializer(
    "DraftFilterSerializer", "Query parameters of the draft list: the review queue's filters "
    "plus status, project and an ordering from an allowlist.",
    DRAFT_LIST_FILTERS,
    project=serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1),
)


class DraftListSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    brief = serializers.IntegerField(source="job.brief.id", read_only=True)
    brief_title = serializers.CharField(source="job.brief.title", read_only=True)
    kind = serializers.CharField(source="job.brief.kind", read_only=True)
    deadline = serializers.DateTimeField(source="job.brief.deadline", read_only=True,
                                         allow_null=True)
    model_version = serializers.IntegerField(source="job.model_version_id", read_only=True,
                                             allow_null=True)
    claimed_by = serializers.CharField(source="claimed_by.username", read_only=True,
                                       allow_null=True, default=None)
    assigned_to = serializers.CharField(source="assigned_to.username", read_only=True,
                                        allow_null=True, default=None)
    snippet = serializers.CharField(read_only=True)

    class Meta:
        model = Draft
        fields = [
            "id", "project", "project_name", "brief", "brief_title", "kind", "deadline", "job",
            "variant", "status", "version", "flags", "flag_codes", "model_version",
            "claimed_by", "claimed_until", "assigned_to", "created_at", "snippet",
        ]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "action", "reviewer", "final_text", "reason_tags", "comment",
                  "draft_version", "created_at"]
        read_only_fields = fields


class DraftSerializer(serializers.ModelSerializer):
    brief = serializers.IntegerField(source="job.brief_id", read_only=True)
    kind = serializers.CharField(source="job.brief.kind", read_only=True)
    model_version = serializers.IntegerField(source="job.model_version_id", read_only=True,
                                             allow_null=True)
    claimed_by = serializers.CharField(source="claimed_by.username", read_only=True,
                                       allow_null=True, default=None)
    assigned_to = serializers.CharField(source="assigned_to.username", read_only=True,
                                        allow_null=True, default=None)
    history = ReviewSerializer(source="reviews", many=True, read_only=True)

    class Meta:
        model = Draft
        fields = [
            "id", "project", "brief", "kind", "job", "variant", "text", "current_text",
            "prompt", "params", "seed", "prompt_tokens", "completion_tokens", "flags",
            "flag_codes", "status", "ab_pick", "model_version", "claimed_by", "claimed_until",
            "assigned_to", "version", "created_at", "decided_at", "history",
        ]
        read_only_fields = fields


class ApproveInputSerializer(StrictSerializer):
    text = PlainTextField(required=False, allow_blank=True, trim_whitespace=False,
                                 help_text="Your edited text; leave out to approve as it is.")
    comment = PlainTextField(required=False, allow_blank=True)


class RejectInputSerializer(StrictSerializer):
    reason_tags = serializers.ListField(
        child=PlainTextField(), max_length=20,
        help_text="One or more of: " + ", ".join(REJECT_REASONS),
    )
    comment = PlainTextField(required=False, allow_blank=True)


class EditInputSerializer(StrictSerializer):
    text = PlainTextField(allow_blank=True, trim_whitespace=False)


class AbPickInputSerializer(StrictSerializer):
    picked = serializers.BooleanField()


class AssignInputSerializer(StrictSerializer):
    assignee = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=2**63 - 1,
        help_text="The user id of an editor or admin of the team; null to unassign.")


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "team", "created_at", "read_at"]
        read_only_fields = fields


class ApprovedCopySerializer(serializers.Serializer):
    brief_id = serializers.IntegerField()
    brief_title = serializers.CharField()
    kind = serializers.CharField()
    channel = serializers.CharField()
    variant = serializers.IntegerField(help_text="1-based, as the pages show it")
    draft_id = serializers.IntegerField()
    text = serializers.CharField(help_text="The approved text, with the editor's edits")
    edited = serializers.BooleanField()
    approved_by = serializers.CharField()
    approved_at = serializers.CharField()
    model = serializers.CharField(help_text="The model version and base model that wrote it")


class NotificationFilterSerializer(serializers.Serializer):
    """Query parameters of your notification list."""

    unread = serializers.BooleanField(required=False, help_text="Only the unread ones.")
    page = serializers.IntegerField(required=False, min_value=1, max_value=10**9)


class NotificationReadInputSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                required=False, max_length=500,
                                help_text="The notifications to mark read; none: all.")


class EtagVersionField(serializers.CharField):
    """A draft version as its ETag (``"v3"``, as GET /api/drafts/{id}/ sends it), or the
    bare number the draft list shows; parsed to the number."""

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        text = super().to_internal_value(data)
        version = etag_version(text) if len(text) <= 40 else None
        if version is None:
            raise serializers.ValidationError(ETAG_HELP)
        return version


class BulkDecisionInputSerializer(StrictSerializer):
    draft = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="A draft id.")
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    version = EtagVersionField(
        error_messages={"required": "Required: the draft's ETag as you saw it (what If-Match "
                                    'carries on the single-draft endpoints), e.g. "v3".'},
        help_text='What If-Match carries on the single-draft endpoints: the ETag of the '
                  'draft as you saw it, e.g. "v3" (or 3). Required.',
    )
    reason_tags = serializers.ListField(
        child=PlainTextField(), max_length=20, required=False,
        help_text="Reject only, one or more of: " + ", ".join(REJECT_REASONS),
    )
    comment = PlainTextField(required=False, allow_blank=True)


class DecisionListField(serializers.ListField):
    """The list of decisions; its size is checked before any item is read."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list) and len(data) > BULK_MAX:
            raise serializers.ValidationError(
                f"Send at most {BULK_MAX} decisions at a time ({len(data)} sent)."
            )
        return super().to_internal_value(data)


class BulkReviewInputSerializer(StrictSerializer):
    items = DecisionListField(child=BulkDecisionInputSerializer(), allow_empty=False,
                              max_length=BULK_MAX,
                              help_text=f"1 to {BULK_MAX} decisions, one per draft.")


class BulkDecisionResultSerializer(serializers.Serializer):
    draft = serializers.IntegerField()
    # Not a second enum of the same choices: the schema's enum names would collide.
    action = serializers.CharField(help_text="approve or reject, as sent.")
    status = serializers.ChoiceField(
        choices=[o.value for o in DecisionOutcome],
        help_text="ok: decided. stale: the draft changed since that version (nothing "
                  "written). decided: approved or rejected already. claimed: another "
                  "editor is reviewing it. not_found: no such draft in your teams. "
                  "forbidden: your role in its team cannot review.",
    )
    code = serializers.IntegerField(
        help_text="The status the single-draft endpoint would have answered "
                  "(200, 412, 409, 404 or 403).",
    )
    detail = serializers.CharField()
    version = serializers.IntegerField(
        allow_null=True, help_text="The draft's version now (null: not found or forbidden).",
    )
    etag = serializers.CharField(allow_null=True, help_text="The draft's ETag now.")
    claimed_by = serializers.CharField(allow_null=True)
    claimed_until = serializers.DateTimeField(allow_null=True)


class BulkReviewResultSerializer(serializers.Serializer):
    results = BulkDecisionResultSerializer(many=True, help_text="One per decision, in order.")
    counts = serializers.DictField(child=serializers.IntegerField(),
                                   help_text="How many decisions ended with each status.")


# Training ---------------------------------------------------------------------------------


class TrainingExampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingExample
        fields = ["id", "project", "kind", "content_kind", "prompt", "completion",
                  "rejected_completion", "reason_tags", "source_review", "excluded",
                  "created_at"]
        read_only_fields = fields


class TrainingJobSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = ["id", "project", "method", "base_model", "hyperparameters", "snapshot",
                  "status", "phase", "step", "total_steps", "loss_curve", "eta_seconds", "error",
                  "cancel_requested", "attempts", "created_at", "started_at", "finished_at",
                  "version"]
        read_only_fields = fields

    def get_version(self, job: TrainingJob) -> int | None:
        version = getattr(job, "version", None)
        return version.pk if version is not None else None


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "project", "number", "base_model", "base_revision", "adapter_sha256",
                  "parent", "snapshot", "training_job", "metrics", "status", "created_at",
                  "promoted_at", "load_check", "load_check_error", "load_checked_at",
                  "load_check_info", "gate", "gate_override"]
        read_only_fields = fields


class PromoteInputSerializer(StrictSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, default="",
        help_text="Why to promote a version that did not pass the gate (required then; "
                  "recorded on the version and in the audit log).",
    )


class PageSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=10**9)


TrainingExampleFilterSerializer = filter_serializer(
    "TrainingExampleFilterSerializer", "Query parameters of a project's training examples.",
    EXAMPLE_FILTERS,
)


class TrainingExportSerializer(serializers.Serializer):
    records = serializers.ChoiceField(
        choices=list(EXPORT_FORMATS), required=False, default="sft",
        help_text="sft: TRL chat 'messages' records; openai: OpenAI chat fine-tuning lines; "
                  "dpo: TRL prompt/chosen/rejected pairs; openai_dpo: OpenAI preference lines "
                  "(input, preferred_output, non_preferred_output); studio: every example "
                  "with a signed header, to import into another project of the team.",
    )


class TrainingImportInputSerializer(StrictSerializer):
    file = serializers.FileField(help_text="A studio export (records=studio).")


class DatasetSnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetSnapshot
        fields = ["id", "project", "content_hash", "counts", "created_at"]
        read_only_fields = fields


class TrainingImportSerializer(serializers.Serializer):
    snapshot = DatasetSnapshotSerializer(help_text="The export's snapshot, stored here.")
    created = serializers.IntegerField(help_text="Examples added to the project.")
    existing = serializers.IntegerField(help_text="Examples the project held already.")


class ExcludeInputSerializer(StrictSerializer):
    excluded = serializers.BooleanField()


class TrainingStartInputSerializer(StrictSerializer):
    method = serializers.ChoiceField(choices=TrainingJob.Method.choices,
                                     default=TrainingJob.Method.SFT)


# Edit cost ----------------------------------------------------------------------------------


class EditCostQuerySerializer(serializers.Serializer):
    weeks = serializers.IntegerField(
        required=False, default=26, min_value=1, max_value=520,
        help_text="How many weeks back the per-week rows go (1-520, default 26).",
    )


class EditCostRowSerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="Drafts approved or rejected.")
    approved_as_is = serializers.IntegerField(
        help_text="Approved without an edit (an edit of whitespace only counts here).")
    approved_with_edits = serializers.IntegerField()
    rejected = serializers.IntegerField()
    acceptance = serializers.FloatField(
        allow_null=True, help_text="approved_as_is / decided; null when nothing was decided.")
    mean_edit_cost = serializers.FloatField(
        allow_null=True,
        help_text="Mean over approvals of the edit distance from the model's text to the "
                  "approved text (words; characters for CJK) / the longer text's length: "
                  "0 = as written, 1 = nothing kept.")
    mean_cost_with_rejections = serializers.FloatField(
        allow_null=True, help_text="The same mean with each rejection counted as 1.")
    mean_seconds_to_decision = serializers.FloatField(
        allow_null=True, help_text="From the draft's creation to its decision.")


class EditCostVersionRowSerializer(EditCostRowSerializer):
    model_version = serializers.IntegerField(
        allow_null=True, help_text="The model version's id; null for the base model.")
    version_number = serializers.IntegerField(allow_null=True)
    base = serializers.BooleanField(help_text="True for drafts of the base model (no adapter).")


class EditCostKindRowSerializer(EditCostRowSerializer):
    kind = serializers.CharField(help_text="The content kind of the drafts' briefs.")


class EditCostWeekRowSerializer(EditCostVersionRowSerializer):
    week = serializers.DateField(help_text="The week's Monday (decisions of that week).")


class EditCostSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    weeks = serializers.IntegerField()
    overall = EditCostRowSerializer()
    by_version = EditCostVersionRowSerializer(many=True)
    by_kind = EditCostKindRowSerializer(many=True)
    by_week = EditCostWeekRowSerializer(many=True, help_text="Per week and model version.")
