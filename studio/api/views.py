"""The REST API: thin views over the same services and selectors as the pages.

Each view parses its input with a serializer, calls one service (which checks the
user's role and the team) or reads through a ``*_visible_to`` selector, and answers
with a serializer. Outsiders get 404 and members without the role 403, as on the pages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from studio.models import Draft, Project, Review, TrainingJob
from studio.permissions import (
    Need,
    brief_for_user,
    draft_for_user,
    drafts_visible_to,
    examples_visible_to,
    project_for_user,
    projects_visible_to,
    role_allows,
    role_in,
    teams_allowing,
    training_job_for_user,
    version_for_user,
)
from studio.selectors import training as training_sel
from studio.selectors.briefs import brief_page, parse_brief_filters, project_briefs
from studio.selectors.reviews import QueueFilters, _filtered, _for_rows
from studio.services import training as training_svc
from studio.services.briefs import brief_clean, brief_create, brief_regenerate
from studio.services.projects import project_update_settings
from studio.services.reviews import (
    BULK_MAX,
    DecisionOutcome,
    DecisionResult,
    DecisionsInvalid,
    ReviewDecision,
    ReviewError,
    draft_claim_or_refuse,
    draft_release,
    draft_set_ab_pick,
    review_approve,
    review_reject,
    review_save_edit,
    reviews_decide,
)

from . import serializers as s
from .base import (
    IF_MATCH_PARAMETER,
    Conflict,
    StudioAPIView,
    StudioMixin,
    draft_etag,
    error_responses,
    if_match_version,
    review_refusal_response,
    validation_detail,
)
from .throttling import generation_throttle

# Health and root -----------------------------------------------------------------------


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the web process can reach its database; 503 otherwise. No login."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database error means "not healthy"
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


class ApiRootView(StudioAPIView):
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return reverse(name, request=request)

        return Response({
            "projects": link("api:project-list"),
            "drafts": link("api:draft-list"),
            "schema": link("schema"),
            "docs": link("api-docs"),
        })


class ApiNotFoundView(StudioAPIView):
    """Any other URL under /api/ (a malformed id, a typo): a JSON 404, not the HTML page."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get


# Projects ---------------------------------------------------------------------------------


class ProjectListView(StudioMixin, generics.ListAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return projects_visible_to(self.request.user).select_related("team").order_by("name",
                                                                                      "id")

    @extend_schema(responses={200: s.ProjectSerializer(many=True), **error_responses(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ProjectDetailView(StudioAPIView):
    @extend_schema(responses={200: s.ProjectSerializer, **error_responses(404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for_user(request.user, project_id, need=Need.VIEW)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=s.ProjectSettingsInputSerializer,
                   responses={200: s.ProjectSettingsSerializer, **error_responses(400, 404)})
    def patch(self, request: Request, project_id: int) -> Response:
        project_for_user(request.user, project_id, need=Need.ADMIN)
        body = s.ProjectSettingsInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        rotate = bool(data.pop("rotate_webhook_secret", False))
        project = project_update_settings(user=request.user, project_id=project_id,
                                          data=data, rotate_webhook_secret=rotate)
        return Response(s.ProjectSettingsSerializer(project).data)


# Briefs ------------------------------------------------------------------------------------


class ProjectBriefsView(StudioMixin, generics.ListAPIView):
    """A project's briefs (the brief desk: ?kind=, ?status=, ?q= on the title), and
    submitting a new brief, which queues its first generation job."""

    serializer_class = s.BriefListSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.VIEW)
        return project_briefs(user=self.request.user, project=project,
                              filters=parse_brief_filters(self.request.query_params))

    @extend_schema(
        parameters=[s.BriefFilterSerializer],
        responses={200: s.BriefListSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s.BriefFilterSerializer(data=request.query_params).is_valid(raise_exception=True)
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.BriefInputSerializer,
                   responses={201: s.BriefCreatedSerializer, **error_responses(400, 404, 429)})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for_user(request.user, project_id, need=Need.SUBMIT)
        body = s.BriefInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        # A brief refused for its content costs the team no generation slot.
        brief_clean(kind=data["kind"], data=data)
        generation_throttle(team_id=project.team_id)
        brief = brief_create(user=request.user, project_id=project.pk, data=data)
        brief.job = brief.jobs.order_by("-created_at", "-pk").first()  # type: ignore[attr-defined]
        created = s.BriefCreatedSerializer(brief, context=_job_context(request, project))
        return Response(created.data, status=status.HTTP_201_CREATED)


class BriefDetailView(StudioAPIView):
    @extend_schema(responses={200: s.BriefDetailSerializer, **error_responses(404)})
    def get(self, request: Request, brief_id: int) -> Response:
        brief = brief_for_user(request.user, brief_id, need=Need.VIEW)
        page = brief_page(brief=brief)
        brief.page_jobs = [  # type: ignore[attr-defined]
            *([page.latest_job] if page.latest_job else []), *page.older_jobs
        ]
        return Response(s.BriefDetailSerializer(
            brief, context=_job_context(request, brief.project)).data)


def _job_context(request: Request, project: Project) -> dict[str, Any]:
    """What GenerationJobSerializer needs: the project, and whether the technical
    errors may be shown (the team's admins only)."""
    return {"project": project,
            "is_admin": role_allows(role_in(request.user, project.team_id), Need.ADMIN)}


def _refuse_body(request: Request) -> None:
    """Actions that take no input say so, instead of ignoring what was sent."""
    if not request.data:
        return
    if isinstance(request.data, dict):
        raise exceptions.ValidationError({str(name)[:100]: ["This field cannot be set here."]
                                          for name in list(request.data)[:20]})
    raise exceptions.ValidationError({"non_field_errors": ["Send no body."]})


class BriefRegenerateView(StudioAPIView):
    @extend_schema(request=None,
                   responses={202: s.GenerationJobSerializer,
                              **error_responses(400, 404, 409, 429)})
    def post(self, request: Request, brief_id: int) -> Response:
        brief = brief_for_user(request.user, brief_id, need=Need.SUBMIT)
        _refuse_body(request)
        generation_throttle(team_id=brief.project.team_id)
        try:
            job = brief_regenerate(user=request.user, brief_id=brief.pk)
        except ValidationError as exc:  # the brief is being written already
            raise Conflict(" ".join(validation_detail(exc).get("non_field_errors", []))
                           or "This brief is already being written.") from exc
        body = s.GenerationJobSerializer(job, context=_job_context(request, brief.project))
        return Response(body.data, status=status.HTTP_202_ACCEPTED)


# Drafts ------------------------------------------------------------------------------------


class DraftListView(StudioMixin, generics.ListAPIView):
    """Drafts the user may see, with the review queue's filters, status and project."""

    serializer_class = s.DraftListSerializer

    def get_queryset(self) -> QuerySet[Draft]:
        params = s.DraftFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        qs = drafts_visible_to(self.request.user)
        if "project" in f:
            qs = qs.filter(project_id=f["project"])
        if "status" in f:
            qs = qs.filter(status=f["status"])
        queue_filters = QueueFilters(kind=f.get("kind", ""), flag=f.get("flag", ""),
                                     model=f.get("model", ""), age=f.get("age", ""))
        ordering = f.get("ordering", "created_at")
        return _for_rows(_filtered(qs, queue_filters)).order_by(
            ordering, "-id" if ordering.startswith("-") else "id"
        )

    @extend_schema(parameters=[s.DraftFilterSerializer],
                   responses={200: s.DraftListSerializer(many=True), **error_responses(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _draft_response(request: Request, draft_id: int, *, code: int = 200) -> Response:
    draft = draft_for_user(request.user, draft_id, need=Need.VIEW)
    draft = (
        Draft.objects.select_related("job__brief", "claimed_by")
        .prefetch_related(Prefetch("reviews", queryset=Review.objects.select_related("reviewer")
                                   .order_by("draft_version")))
        .get(pk=draft.pk)
    )
    return Response(s.DraftSerializer(draft).data, status=code,
                    headers={"ETag": draft_etag(draft)})


class DraftDetailView(StudioAPIView):
    @extend_schema(responses={200: s.DraftSerializer, **error_responses(404)})
    def get(self, request: Request, draft_id: int) -> Response:
        """A draft with its history. The ``ETag`` header is its version: send it back as
        ``If-Match`` to approve, reject or save an edit."""
        return _draft_response(request, draft_id)


class _DecisionView(StudioAPIView):
    """Approve / reject / save an edit: If-Match is required, and a stale version gets
    412 with both texts (nothing is saved), a decided or claimed draft 409."""

    input_serializer: type[s.StrictSerializer]

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def post(self, request: Request, draft_id: int) -> Response:
        draft_for_user(request.user, draft_id, need=Need.REVIEW)
        version = if_match_version(request)
        body = self.input_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            self.decide(request, draft_id, version, dict(body.validated_data))
        except ReviewError as exc:
            return review_refusal_response(exc, your_text=body.validated_data.get("text"))
        return _draft_response(request, draft_id)


_DECISION_RESPONSES = {200: s.DraftSerializer, **error_responses(400, 404, 409, 412, 428)}


class DraftApproveView(_DecisionView):
    input_serializer = s.ApproveInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_approve(user=request.user, draft_id=draft_id, version=version,
                       text=data.get("text"), comment=data.get("comment", ""))

    @extend_schema(request=s.ApproveInputSerializer, parameters=[IF_MATCH_PARAMETER],
                   responses=_DECISION_RESPONSES)
    def post(self, request: Request, draft_id: int) -> Response:
        """Approve as it is, or with your edited ``text`` (approve with edits)."""
        return super().post(request, draft_id)


class DraftRejectView(_DecisionView):
    input_serializer = s.RejectInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_reject(user=request.user, draft_id=draft_id, version=version,
                      reason_tags=data["reason_tags"], comment=data.get("comment", ""))

    @extend_schema(request=s.RejectInputSerializer, parameters=[IF_MATCH_PARAMETER],
                   responses=_DECISION_RESPONSES)
    def post(self, request: Request, draft_id: int) -> Response:
        return super().post(request, draft_id)


class DraftEditView(_DecisionView):
    input_serializer = s.EditInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_save_edit(user=request.user, draft_id=draft_id, version=version, text=data["text"])

    @extend_schema(request=s.EditInputSerializer, parameters=[IF_MATCH_PARAMETER],
                   responses=_DECISION_RESPONSES)
    def post(self, request: Request, draft_id: int) -> Response:
        """Save your text without deciding; the draft stays pending at version + 1."""
        return super().post(request, draft_id)


class DraftClaimView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.DraftSerializer, **error_responses(400, 404, 409)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Keep a pending draft for yourself while you review it, as opening it on the
        review page does: for ``REVIEW_CLAIM_SECONDS`` (5 minutes by default); claiming
        it again renews the time. Others cannot approve, reject or edit it meanwhile.
        409 when another editor holds it (``claimed_by``, ``claimed_until``) or it was
        decided already."""
        draft_for_user(request.user, draft_id, need=Need.REVIEW)
        _refuse_body(request)
        draft_claim_or_refuse(user=request.user, draft_id=draft_id)
        return _draft_response(request, draft_id)


class DraftReleaseView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.DraftSerializer, **error_responses(400, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Give up your claim (skipping a draft), so others may take it at once. A claim
        you do not hold is left as it is (``claimed_by`` in the answer says whose)."""
        draft_for_user(request.user, draft_id, need=Need.REVIEW)
        _refuse_body(request)
        draft_release(user=request.user, draft_id=draft_id)
        return _draft_response(request, draft_id)


_OUTCOME_CODES = {
    DecisionOutcome.OK: 200,
    DecisionOutcome.STALE: 412,
    DecisionOutcome.DECIDED: 409,
    DecisionOutcome.CLAIMED: 409,
    DecisionOutcome.NOT_FOUND: 404,
    DecisionOutcome.FORBIDDEN: 403,
}

_BULK_DESCRIPTION = f"""Approve or reject up to {BULK_MAX} drafts in one request, each at \
the version you saw. A bulk approval approves the text as it stands (no edits).

**Versions.** `If-Match` names one draft's version, so here every item carries its own:
`version` is the draft's ETag as `GET /api/drafts/{{id}}/` sends it (`"v3"`), or the bare
number from the draft list. It is required: an item without it is refused with a field
error (the bulk form of 428) rather than decided blind.

**The input is all or nothing.** The whole body is checked first: known fields only,
the action, reasons (a rejection needs one or more), comments, one decision per draft,
1 to {BULK_MAX} items. Any fault answers 400 with field errors keyed by item index, e.g.
`{{"items": {{"1": {{"reason_tags": ["…"]}}}}}}`, and nothing is written.

**The drafts are per item.** Then each decision is made on its own, in the order sent,
exactly as `POST /api/drafts/{{id}}/approve/` and `…/reject/` make it, in its own
transaction: a decision is written whole or not at all, and one that cannot be made
does not stop the others. The answer is 200 with one result per item, in order; its
`status` says what happened and `code` what the single-draft endpoint would answer:

* `ok` (200): decided; `version` and `etag` are the draft's new ones.
* `stale` (412): the draft changed since your `version`; nothing was written, and
  `version` is the current one: read the draft again before deciding.
* `decided` (409): approved or rejected already.
* `claimed` (409): another editor is reviewing it (`claimed_by`, `claimed_until`).
* `not_found` (404): no such draft among your teams'. Another team's ids answer exactly
  like ids that do not exist.
* `forbidden` (403): your role in that draft's team cannot review.

Someone whose role allows reviewing in none of their teams gets 403 for the request."""


def _decision_row(result: DecisionResult) -> dict[str, Any]:
    draft = result.draft
    holder = draft.claimed_by if draft is not None and draft.claimed_by_id else None
    held = result.outcome is DecisionOutcome.CLAIMED and holder is not None
    return {
        "draft": result.decision.draft_id,
        "action": result.decision.action,
        "status": result.outcome.value,
        "code": _OUTCOME_CODES[result.outcome],
        "detail": result.detail,
        "version": draft.version if draft is not None else None,
        "etag": draft_etag(draft) if draft is not None else None,
        "claimed_by": holder.get_username() if held and holder else None,
        "claimed_until": draft.claimed_until if held and draft else None,
    }


class DraftBulkReviewView(StudioAPIView):
    @extend_schema(request=s.BulkReviewInputSerializer, description=_BULK_DESCRIPTION,
                   summary="Approve or reject many drafts, each at its version",
                   responses={200: s.BulkReviewResultSerializer, **error_responses(400)})
    def post(self, request: Request) -> Response:
        if not teams_allowing(request.user, Need.REVIEW).exists():
            raise PermissionDenied("Your role does not allow reviewing drafts.")
        body = s.BulkReviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decisions = [
            ReviewDecision(draft_id=item["draft"], action=item["action"],
                           version=item["version"],
                           reason_tags=tuple(item.get("reason_tags", ())),
                           comment=item.get("comment", ""))
            for item in body.validated_data["items"]
        ]
        try:
            results = reviews_decide(user=request.user, decisions=decisions)
        except DecisionsInvalid as exc:
            raise exceptions.ValidationError({"items": {
                str(index): errors for index, errors in enumerate(exc.item_errors) if errors
            }}) from exc
        counts = dict.fromkeys((o.value for o in DecisionOutcome), 0)
        for result in results:
            counts[result.outcome.value] += 1
        answer = {"results": [_decision_row(r) for r in results], "counts": counts}
        return Response(s.BulkReviewResultSerializer(answer).data)


class DraftAbPickView(StudioAPIView):
    @extend_schema(request=s.AbPickInputSerializer,
                   responses={200: s.DraftSerializer, **error_responses(400, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Mark (or unmark) a variant as one of its brief's A/B variants to run."""
        draft_for_user(request.user, draft_id, need=Need.SUBMIT)
        body = s.AbPickInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft_set_ab_pick(user=request.user, draft_id=draft_id,
                          picked=body.validated_data["picked"])
        return _draft_response(request, draft_id)



# Training data, jobs and model versions (admins, as on the training pages) ----------------


class ProjectTrainingExamplesView(StudioMixin, generics.ListAPIView):
    serializer_class = s.TrainingExampleSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.ADMIN)
        return training_sel.training_examples_for(
            self.request.user, project=project,
            filters=training_sel.ExampleFilters.from_query(self.request.query_params),
        )

    @extend_schema(parameters=[s.TrainingExampleFilterSerializer],
                   responses={200: s.TrainingExampleSerializer(many=True),
                              **error_responses(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s.TrainingExampleFilterSerializer(data=request.query_params).is_valid(
            raise_exception=True
        )
        return super().get(request, *args, **kwargs)


class TrainingExportView(StudioAPIView):
    @extend_schema(parameters=[s.TrainingExportSerializer],
                   responses={(200, "application/jsonl"): OpenApiTypes.STR,
                              **error_responses(400, 404)})
    def get(self, request: Request, project_id: int) -> HttpResponse:
        """The project's non-excluded examples as JSONL, as TRL reads them."""
        project = project_for_user(request.user, project_id, need=Need.ADMIN)
        params = s.TrainingExportSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        records = params.validated_data["records"]
        body = training_sel.training_export_jsonl(request.user, project=project, fmt=records)
        response = HttpResponse(body, content_type="application/jsonl; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="project-{project.pk}-{records}.jsonl"'
        )
        return response


class TrainingExampleExcludeView(StudioAPIView):
    @extend_schema(request=s.ExcludeInputSerializer,
                   responses={200: s.TrainingExampleSerializer, **error_responses(400, 404)})
    def post(self, request: Request, example_id: int) -> Response:
        """Exclude an example from training (``excluded: true``) or include it again."""
        project_id = (examples_visible_to(request.user).filter(pk=example_id)
                      .values_list("project_id", flat=True).first())
        if project_id is None:
            raise NotFound()
        project_for_user(request.user, project_id, need=Need.ADMIN)
        body = s.ExcludeInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        example = training_svc.example_set_excluded(
            user=request.user, example_id=example_id, excluded=body.validated_data["excluded"]
        )
        return Response(s.TrainingExampleSerializer(example).data)


class ProjectTrainingJobsView(StudioMixin, generics.ListAPIView):
    serializer_class = s.TrainingJobSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.ADMIN)
        return training_sel.training_jobs_for(self.request.user, project=project)

    @extend_schema(parameters=[s.PageSerializer],
                   responses={200: s.TrainingJobSerializer(many=True), **error_responses(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.TrainingStartInputSerializer,
                   responses={201: s.TrainingJobSerializer, **error_responses(400, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        """Snapshot the project's examples and queue a retraining job. 400 says why not
        (too few examples, a job already queued or running)."""
        project = project_for_user(request.user, project_id, need=Need.ADMIN)
        body = s.TrainingStartInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = training_svc.training_job_start(user=request.user, project_id=project.pk,
                                              method=body.validated_data["method"])
        return Response(s.TrainingJobSerializer(job).data, status=status.HTTP_201_CREATED)


class TrainingJobDetailView(StudioAPIView):
    @extend_schema(responses={200: s.TrainingJobSerializer, **error_responses(404)})
    def get(self, request: Request, job_id: int) -> Response:
        """A job's progress: status, phase, step / total_steps, ETA, loss curve."""
        job = training_job_for_user(request.user, job_id, need=Need.ADMIN)
        job = TrainingJob.objects.select_related("version").get(pk=job.pk)
        return Response(s.TrainingJobSerializer(job).data)


class TrainingJobCancelView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.TrainingJobSerializer, **error_responses(404, 409)})
    def post(self, request: Request, job_id: int) -> Response:
        """Cancel a queued job at once, or ask a running one to stop at its next step."""
        training_job_for_user(request.user, job_id, need=Need.ADMIN)
        try:
            job = training_svc.training_job_cancel(user=request.user, job_id=job_id)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(s.TrainingJobSerializer(job).data)


class ProjectModelVersionsView(StudioMixin, generics.ListAPIView):
    serializer_class = s.ModelVersionSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.ADMIN)
        return training_sel.model_versions_for(self.request.user, project=project)

    @extend_schema(parameters=[s.PageSerializer],
                   responses={200: s.ModelVersionSerializer(many=True), **error_responses(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class _VersionSwitchView(StudioAPIView):
    switch: Any

    def post(self, request: Request, version_id: int) -> Response:
        version_for_user(request.user, version_id, need=Need.ADMIN)
        try:
            version = self.switch(user=request.user, version_id=version_id)
        except ValidationError as exc:  # wrong status, missing or tampered adapter
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(s.ModelVersionSerializer(version).data)


class ModelPromoteView(_VersionSwitchView):
    switch = staticmethod(training_svc.model_promote)

    @extend_schema(request=None,
                   responses={200: s.ModelVersionSerializer, **error_responses(404, 409)})
    def post(self, request: Request, version_id: int) -> Response:
        """Make a ready version live. Its adapter's sha256 is checked first, and its load
        check must have passed (``load_check`` "ok": the serving loader loaded it and
        wrote with it); otherwise 409 with the reason and the live model is unchanged."""
        return super().post(request, version_id)


class ModelCheckView(StudioAPIView):
    @extend_schema(request=None,
                   responses={202: s.ModelVersionSerializer, **error_responses(404, 409)})
    def post(self, request: Request, version_id: int) -> Response:
        """Check that the version loads: a generation worker loads its adapter with its
        serving engine and writes a few tokens. 202 with ``load_check`` "pending"; poll
        the version list for "ok" or "failed" (with ``load_check_error``). 409 for a
        version without an adapter."""
        version_for_user(request.user, version_id, need=Need.ADMIN)
        _refuse_body(request)
        try:
            version = training_svc.model_version_check_request(user=request.user,
                                                               version_id=version_id)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(s.ModelVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


class ModelRollbackView(_VersionSwitchView):
    switch = staticmethod(training_svc.model_rollback)

    @extend_schema(request=None,
                   responses={200: s.ModelVersionSerializer, **error_responses(404, 409)})
    def post(self, request: Request, version_id: int) -> Response:
        """Make an archived (earlier live) version live again."""
        return super().post(request, version_id)


class ModelUseBaseView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.ProjectSerializer, **error_responses(404, 409)})
    def post(self, request: Request, project_id: int) -> Response:
        """Take the live version off: the project serves its plain base model again
        (``live_model`` becomes null) and new generation jobs use no adapter. The version
        is archived, so it can be rolled back to. 409 when the project already uses the
        base model."""
        project_for_user(request.user, project_id, need=Need.ADMIN)
        try:
            project = training_svc.model_use_base(user=request.user, project_id=project_id)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(s.ProjectSerializer(project).data)
