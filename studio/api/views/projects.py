"""Projects: the list the user may see, one project, its settings (admins)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    StudioAPIView,
    StudioMixin,
    error_responses,
)
from studio.models import Project
from studio.permissions import (
    Need,
    project_for_user,
    projects_visible_to,
)
from studio.services.projects import project_update_settings


@extend_schema_view(get=extend_schema(
    responses={200: s.ProjectSerializer(many=True), **error_responses(404)},
))
class ProjectListView(StudioMixin, generics.ListAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return projects_visible_to(self.request.user).select_related("team").order_by("name",
                                                                                      "id")


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
        response = Response(s.ProjectSettingsSerializer(project).data)
        add_never_cache_headers(response)  # it carries the webhook signing secret
        return response
