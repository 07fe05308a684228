"""Reviews: approve, reject or edit one draft at its version, or decide many at once."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    IF_MATCH_PARAMETER,
    StudioAPIView,
    draft_etag,
    error_responses,
    if_match_version,
    studio_error_response,
)
from studio.api.views.drafts import draft_response
from studio.permissions import (
    Need,
    draft_for_user,
    teams_allowing,
)
from studio.services.reviews import (
    BULK_MAX,
    DecisionOutcome,
    DecisionResult,
    DecisionsInvalid,
    ReviewDecision,
    ReviewError,
    review_approve,
    review_reject,
    review_save_edit,
    reviews_decide,
)


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
            return studio_error_response(exc, your_text=body.validated_data.get("text"))
        return draft_response(request, draft_id)


_DECISION_RESPONSES = {200: s.DraftSerializer, **error_responses(400, 404, 409, 412, 428)}


@extend_schema_view(post=extend_schema(
    request=s.ApproveInputSerializer,
    parameters=[IF_MATCH_PARAMETER],
    responses=_DECISION_RESPONSES,
))
class DraftApproveView(_DecisionView):
    """Approve as it is, or with your edited ``text`` (approve with edits)."""

    input_serializer = s.ApproveInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_approve(user=request.user, draft_id=draft_id, version=version,
                       text=data.get("text"), comment=data.get("comment", ""))


@extend_schema_view(post=extend_schema(
    request=s.RejectInputSerializer,
    parameters=[IF_MATCH_PARAMETER],
    responses=_DECISION_RESPONSES,
))
class DraftRejectView(_DecisionView):
    input_serializer = s.RejectInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_reject(user=request.user, draft_id=draft_id, version=version,
                      reason_tags=data["reason_tags"], comment=data.get("comment", ""))


@extend_schema_view(post=extend_schema(
    request=s.EditInputSerializer,
    parameters=[IF_MATCH_PARAMETER],
    responses=_DECISION_RESPONSES,
))
class DraftEditView(_DecisionView):
    """Save your text without deciding; the draft stays pending at version + 1."""

    input_serializer = s.EditInputSerializer

    def decide(self, request: Request, draft_id: int, version: int, data: dict[str, Any]) -> None:
        review_save_edit(user=request.user, draft_id=draft_id, version=version, text=data["text"])


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
