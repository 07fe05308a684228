from __future__ import annotations

from django.urls import path

from studio.views import generation

urlpatterns = [
    path("briefs/<int:brief_id>/status/", generation.brief_status, name="brief_status"),
    path("briefs/<int:brief_id>/regenerate/", generation.brief_regenerate_view,
         name="brief_regenerate"),
    path("generation-jobs/<int:job_id>/cancel/", generation.generation_job_cancel,
         name="generation_job_cancel"),
]
