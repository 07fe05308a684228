"""Work between people: assigning drafts and briefs, and one's notifications."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import StudioAPIView, StudioMixin, error_responses
from studio.api.views.briefs import brief_response
from studio.api.views.drafts import draft_response
from studio.models import Notification
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


class NotificationListView(StudioMixin, generics.ListAPIView):
    """Your notifications, newest first (``?unread=true`` for the unread only)."""

    serializer_class = s.NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        qs = notifications_visible_to(self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
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
