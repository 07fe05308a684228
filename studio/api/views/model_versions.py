"""Model versions: list, promote, check, roll back, or use the base model (admins)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    StudioAPIView,
    StudioMixin,
    error_responses,
    optional_body,
    refuse_body,
)
from studio.permissions import (
    Need,
    project_for_user,
    version_for_user,
)
from studio.selectors import training as training_sel
from studio.services import training as training_svc


@extend_schema_view(get=extend_schema(
    parameters=[s.PageSerializer],
    responses={200: s.ModelVersionSerializer(many=True), **error_responses(404)},
))
class ProjectModelVersionsView(StudioMixin, generics.ListAPIView):
    serializer_class = s.ModelVersionSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.ADMIN)
        return training_sel.model_versions_for(self.request.user, project=project)


class _VersionSwitchView(StudioAPIView):
    switch: Any

    def post(self, request: Request, version_id: int) -> Response:
        refuse_body(request)
        version = self.switch(user=request.user, version_id=version_id)
        return Response(s.ModelVersionSerializer(version).data)


class ModelPromoteView(StudioAPIView):
    @extend_schema(request=s.PromoteInputSerializer,
                   responses={200: s.ModelVersionSerializer, **error_responses(400, 404, 409)})
    def post(self, request: Request, version_id: int) -> Response:
        """Make a ready version live. Its adapter's sha256 is checked first, and its load
        check must have passed (``load_check`` "ok": the serving loader loaded it and
        wrote with it); otherwise 409 with the reason and the live model is unchanged.
        A version whose ``gate`` did not pass needs a ``reason`` (400 without one; it is
        recorded in ``gate_override`` and the audit log); one whose gate drafts all
        failed is refused (409)."""
        version_for_user(request.user, version_id, need=Need.ADMIN)
        body = s.PromoteInputSerializer(data=optional_body(request))
        body.is_valid(raise_exception=True)
        version = training_svc.model_promote(user=request.user, version_id=version_id,
                                             reason=body.validated_data["reason"])
        return Response(s.ModelVersionSerializer(version).data)


class ModelCheckView(StudioAPIView):
    @extend_schema(request=None,
                   responses={202: s.ModelVersionSerializer, **error_responses(404, 409)})
    def post(self, request: Request, version_id: int) -> Response:
        """Check that the version loads: a generation worker loads its adapter with its
        serving engine and writes a few tokens. 202 with ``load_check`` "pending"; poll
        the version list for "ok" or "failed" (with ``load_check_error``). 409 for a
        version without an adapter."""
        version_for_user(request.user, version_id, need=Need.ADMIN)
        refuse_body(request)
        version = training_svc.model_version_check_request(user=request.user,
                                                           version_id=version_id)
        return Response(s.ModelVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(post=extend_schema(
    request=None,
    responses={200: s.ModelVersionSerializer, **error_responses(404, 409)},
))
class ModelRollbackView(_VersionSwitchView):
    """Make an archived (earlier live) version live again."""

    switch = staticmethod(training_svc.model_rollback)


class ModelUseBaseView(StudioAPIView):
    @extend_schema(request=None,
                   responses={200: s.ProjectSerializer, **error_responses(404, 409)})
    def post(self, request: Request, project_id: int) -> Response:
        """Take the live version off: the project serves its plain base model again
        (``live_model`` becomes null) and new generation jobs use no adapter. The version
        is archived, so it can be rolled back to. 409 when the project already uses the
        base model."""
        refuse_body(request)
        project = training_svc.model_use_base(user=request.user, project_id=project_id)
        return Response(s.ProjectSerializer(project).data)
