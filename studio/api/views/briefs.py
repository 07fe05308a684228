"""Briefs: a project's brief desk, submitting a brief, one brief, regenerating."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    SizedPagination,
    StudioAPIView,
    StudioMixin,
    error_responses,
    job_context,
)
from studio.permissions import (
    Need,
    brief_for_user,
    project_for_user,
)
from studio.selectors.briefs import BriefFilters, brief_page, project_briefs
from studio.services.briefs import brief_regenerate, brief_submit
from studio.services.throttling import generation_throttle


class ProjectBriefsView(StudioMixin, generics.ListAPIView):
    """A project's briefs (the brief desk: ?kind=, ?status=, ?q= over titles,
    instructions and drafts, ?order=, ?size=), and
    submitting a new brief, which queues its first generation job."""

    serializer_class = s.BriefListSerializer
    pagination_class = SizedPagination

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.VIEW)
        return project_briefs(user=self.request.user, project=project,
                              filters=BriefFilters.from_query(self.request.query_params))

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
        brief = brief_submit(user=request.user, project_id=project.pk,
                             data=dict(body.validated_data))
        brief.job = brief.jobs.order_by("-created_at", "-pk").first()  # type: ignore[attr-defined]
        created = s.BriefCreatedSerializer(brief, context=job_context(request, project))
        return Response(created.data, status=status.HTTP_201_CREATED)


def brief_response(request: Request, brief_id: int) -> Response:
    brief = brief_for_user(request.user, brief_id, need=Need.VIEW)
    page = brief_page(brief=brief)
    brief.page_jobs = [  # type: ignore[attr-defined]
        *([page.latest_job] if page.latest_job else []), *page.older_jobs
    ]
    return Response(s.BriefDetailSerializer(
        brief, context=job_context(request, brief.project)).data)


class BriefDetailView(StudioAPIView):
    @extend_schema(responses={200: s.BriefDetailSerializer, **error_responses(404)})
    def get(self, request: Request, brief_id: int) -> Response:
        return brief_response(request, brief_id)


class BriefRegenerateView(StudioAPIView):
    @extend_schema(request=s.RegenerateSerializer,
                   responses={202: s.GenerationJobSerializer,
                              **error_responses(400, 404, 409, 429)})
    def post(self, request: Request, brief_id: int) -> Response:
        brief = brief_for_user(request.user, brief_id, need=Need.SUBMIT)
        options = s.RegenerateSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        generation_throttle(team_id=brief.project.team_id)
        job = brief_regenerate(user=request.user, brief_id=brief.pk,
                               replace=options.validated_data["replace"])
        body = s.GenerationJobSerializer(job, context=job_context(request, brief.project))
        return Response(body.data, status=status.HTTP_202_ACCEPTED)
