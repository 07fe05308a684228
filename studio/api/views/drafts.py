"""Drafts: the list (review queue filters), one draft, claims and A/B picks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    SizedPagination,
    StudioAPIView,
    StudioMixin,
    draft_etag,
    error_responses,
    refuse_body,
)
from studio.models import Draft, Review
from studio.permissions import (
    Need,
    draft_for_user,
)
from studio.selectors.reviews import QueueFilters, drafts_listed
from studio.services.reviews import (
    draft_claim_or_refuse,
    draft_release,
    draft_set_ab_pick,
)


@extend_schema_view(get=extend_schema(
    parameters=[s.DraftFilterSerializer],
    responses={200: s.DraftListSerializer(many=True), **error_responses(400, 404)},
))
class DraftListView(StudioMixin, generics.ListAPIView):
    """Drafts the user may see, with the review queue's filters, status and project."""

    serializer_class = s.DraftListSerializer
    pagination_class = SizedPagination

    def get_queryset(self) -> QuerySet[Draft]:
        params = s.DraftFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        return drafts_listed(user=self.request.user, filters=QueueFilters.from_query(f),
                             project_id=f.get("project"), status=f.get("status", ""),
                             ordering=f.get("ordering", ""))


def draft_response(request: Request, draft_id: int, *, code: int = 200) -> Response:
    draft = draft_for_user(request.user, draft_id, need=Need.VIEW)
    draft = (
        Draft.objects.select_related("job__brief", "claimed_by", "assigned_to")
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
        return draft_response(request, draft_id)


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
        refuse_body(request)
        draft_claim_or_refuse(user=request.user, draft_id=draft_id)
        return draft_response(request, draft_id)


class DraftReleaseView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.DraftSerializer, **error_responses(400, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Give up your claim (skipping a draft), so others may take it at once. A claim
        you do not hold is left as it is (``claimed_by`` in the answer says whose)."""
        draft_for_user(request.user, draft_id, need=Need.REVIEW)
        refuse_body(request)
        draft_release(user=request.user, draft_id=draft_id)
        return draft_response(request, draft_id)


class DraftAbPickView(StudioAPIView):
    @extend_schema(request=s.AbPickInputSerializer,
                   responses={200: s.DraftSerializer, **error_responses(400, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Mark (or unmark) a variant as one of its brief's A/B variants to run
        (marketers and admins)."""
        draft_for_user(request.user, draft_id, need=Need.AB_TEST)
        body = s.AbPickInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft_set_ab_pick(user=request.user, draft_id=draft_id,
                          picked=body.validated_data["picked"])
        return draft_response(request, draft_id)
