"""Generation jobs: what a running job has written so far, and cancelling one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import StudioAPIView, error_responses, job_context, refuse_body
from studio.permissions import Need, generation_job_for_user
from studio.selectors.generation import job_live
from studio.services.generation import job_cancel


class GenerationJobLiveView(StudioAPIView):
    @extend_schema(responses={200: s.GenerationJobLiveSerializer, **error_responses(404)})
    def get(self, request: Request, job_id: int) -> Response:
        job = generation_job_for_user(request.user, job_id, need=Need.VIEW)
        live = job_live(job=job)
        return Response(s.GenerationJobLiveSerializer({
            "id": job.pk, "status": job.status,
            "position": live.position if live else None,
            "wait_s": live.wait_s if live else None,
            "elapsed_s": live.elapsed_s if live else None,
            "left_s": live.left_s if live else None,
            "variants": list(live.variants) if live else [],
        }).data)


class GenerationJobCancelView(StudioAPIView):
    @extend_schema(request=None, responses={200: s.GenerationJobSerializer,
                                            **error_responses(400, 404, 409)})
    def post(self, request: Request, job_id: int) -> Response:
        refuse_body(request)
        job = job_cancel(user=request.user, job_id=job_id)
        return Response(s.GenerationJobSerializer(
            job, context=job_context(request, job.brief.project)).data)
