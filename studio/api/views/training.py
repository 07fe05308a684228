"""Training data and training jobs (admins, as on the training pages)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import (
    StudioAPIView,
    StudioMixin,
    error_responses,
    refuse_body,
)
from studio.models import TrainingJob
from studio.permissions import (
    Need,
    examples_visible_to,
    project_for_user,
    training_job_for_user,
)
from studio.selectors import training as training_sel
from studio.services import training as training_svc
from studio.services.training import imports as imports_svc


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
                   responses={(200, "application/jsonl"): OpenApiResponse(
                       OpenApiTypes.STR,
                       description="JSONL; the snapshot's content hash is in the "
                                   "X-Studio-Snapshot header and the file name."),
                              **error_responses(400, 404)})
    def get(self, request: Request, project_id: int) -> HttpResponse:
        """The project's non-excluded examples (those a snapshot trains on now) as JSONL
        of plain system/user/assistant turns, for TRL, OpenAI, or another project of the
        team (``records=studio``)."""
        project = project_for_user(request.user, project_id, need=Need.ADMIN)
        params = s.TrainingExportSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        export = training_sel.training_export(request.user, project=project,
                                              fmt=params.validated_data["records"])
        return HttpResponse(export.body, content_type=export.content_type,
                            headers=export.headers)


class TrainingImportView(StudioAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": s.TrainingImportInputSerializer},
                   responses={201: s.TrainingImportSerializer,
                              **error_responses(400, 404, 415)})
    def post(self, request: Request, project_id: int) -> Response:
        """Import a studio export (``records=studio``) of another project of the same
        team: the examples the project lacks are added and the export's snapshot is
        stored here with the same content hash. 400 with the reason for a file of
        another team, an edited or malformed file; nothing changes then."""
        # Who may import is answered before the body is read (404 / 403 first).
        project = project_for_user(request.user, project_id, need=Need.ADMIN)
        body = s.TrainingImportInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # At most one byte over the limit is read: the service refuses a larger file.
        data = body.validated_data["file"].read(imports_svc.IMPORT_MAX_BYTES + 1)
        result = imports_svc.training_examples_import(user=request.user, project_id=project.pk,
                                                      data=data)
        return Response(s.TrainingImportSerializer(result).data,
                        status=status.HTTP_201_CREATED)


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


@extend_schema_view(get=extend_schema(
    parameters=[s.PageSerializer],
    responses={200: s.TrainingJobSerializer(many=True), **error_responses(404)},
))
class ProjectTrainingJobsView(StudioMixin, generics.ListAPIView):
    serializer_class = s.TrainingJobSerializer

    def get_queryset(self) -> QuerySet[Any]:
        project = project_for_user(self.request.user, self.kwargs["project_id"], need=Need.ADMIN)
        return training_sel.training_jobs_for(self.request.user, project=project)


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
        refuse_body(request)
        job = training_svc.training_job_cancel(user=request.user, job_id=job_id)
        return Response(s.TrainingJobSerializer(job).data)
