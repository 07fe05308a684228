"""Work between people: assigning drafts and briefs, and one's notifications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import StudioAPIView, StudioMixin, error_responses
from studio.api.views.briefs import brief_response
from studio.api.views.drafts import draft_response
from studio.models import Notification
from studio.permissions import brief_for_user, project_for_user
from studio.selectors.handoff import FORMATS, approved_copy, download_headers, render_copy
from studio.selectors.notifications import notifications_visible_to
from studio.services.assignments import brief_assign, draft_assign
from studio.services.notifications import notification_mark_read


class DraftAssignView(StudioAPIView):
    @extend_schema(request=s.AssignInputSerializer,
                   responses={200: s.DraftSerializer, **error_responses(400, 403, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Assign a pending draft to an editor (``assignee``: their user id; null to
        unassign). Admins assign to any editor or admin of the team; editors take a
        draft for themselves, or give back their own (else 403)."""
        body = s.AssignInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft_assign(user=request.user, draft_id=draft_id,
                     assignee_id=body.validated_data["assignee"])
        return draft_response(request, draft_id)


class BriefAssignView(StudioAPIView):
    @extend_schema(request=s.AssignInputSerializer,
                   responses={200: s.BriefDetailSerializer, **error_responses(400, 403, 404)})
    def post(self, request: Request, brief_id: int) -> Response:
        """Assign a whole brief: its pending drafts now and those of its later runs. Same
        rules as assigning a draft."""
        body = s.AssignInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        brief_assign(user=request.user, brief_id=brief_id,
                     assignee_id=body.validated_data["assignee"])
        return brief_response(request, brief_id)


@extend_schema_view(get=extend_schema(
    parameters=[s.NotificationFilterSerializer],
    responses={200: s.NotificationSerializer(many=True), **error_responses(400, 404)},
))
class NotificationListView(StudioMixin, generics.ListAPIView):
    """Your notifications, newest first (``?unread=true`` for the unread only)."""

    serializer_class = s.NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        params = s.NotificationFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        qs = notifications_visible_to(self.request.user)
        if params.validated_data.get("unread"):
            qs = qs.filter(read_at__isnull=True)
        return qs.order_by("-created_at", "-id")


class NotificationReadView(StudioAPIView):
    @extend_schema(request=s.NotificationReadInputSerializer,
                   responses={200: s.NotificationSerializer(many=True), **error_responses(400)})
    def post(self, request: Request) -> Response:
        """Mark notifications read (``ids``; none: all of yours). Returns the unread left."""
        body = s.NotificationReadInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notification_mark_read(user=request.user, notification_ids=body.validated_data.get("ids"))
        left = notifications_visible_to(request.user).filter(read_at__isnull=True)[:100]
        return Response(s.NotificationSerializer(left, many=True).data)


class ApprovedCopyView(StudioAPIView):
    """Approved copy of a brief or a project: who approved it, which model wrote it."""

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["json", "csv", "md"],
                                     description="json (default), csv or md")],
        responses={(200, "application/json"): s.ApprovedCopySerializer(many=True),
                   (200, "text/csv"): OpenApiTypes.STR,
                   (200, "text/markdown"): OpenApiTypes.STR,
                   **error_responses(400, 404)},
    )
    def get(self, request: Request, brief_id: int | None = None,
            project_id: int | None = None) -> Response | HttpResponse:
        fmt = request.query_params.get("as", "json")
        if fmt not in FORMATS:
            raise ValidationError({"as": "Choose json, csv or md."})
        if brief_id is not None:
            brief = brief_for_user(request.user, brief_id)
            rows, title, name = approved_copy(user=request.user, brief=brief), brief.title, \
                f"brief-{brief.pk}"
        else:
            project = project_for_user(request.user, project_id)
            rows, title, name = (approved_copy(user=request.user, project=project),
                                 project.name, project.name)
        if fmt == "json":
            return Response(s.ApprovedCopySerializer(rows, many=True).data)
        return HttpResponse(render_copy(rows, fmt, title=title),
                            headers=download_headers(fmt, name))
