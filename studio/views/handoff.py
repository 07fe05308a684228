"""Hand-off of approved copy: downloads per brief and per project."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from studio.permissions import brief_for_user, project_for_user
from studio.selectors.handoff import FORMATS, approved_copy, download_headers, render_copy


def copy_download(body: str, fmt: str, name: str) -> HttpResponse:
    return HttpResponse(body, headers=download_headers(fmt, name))


@login_required
@require_GET
def brief_export(request: HttpRequest, brief_id: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("No such format")
    brief = brief_for_user(request.user, brief_id)
    rows = approved_copy(user=request.user, brief=brief)
    return copy_download(render_copy(rows, fmt, title=brief.title), fmt, f"brief-{brief.pk}")


@login_required
@require_GET
def project_export(request: HttpRequest, project_id: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("No such format")
    project = project_for_user(request.user, project_id)
    rows = approved_copy(user=request.user, project=project)
    return copy_download(render_copy(rows, fmt, title=project.name), fmt, project.name)
