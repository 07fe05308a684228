"""Live generation status of a brief (htmx polling), cancel and regenerate.

The status block polls once a second while its job is queued or running. Polling, not
server-sent events: each poll is one short request that reads the job row and one Redis
hash, which gunicorn's sync workers serve in a few milliseconds, while an SSE stream
would hold a whole sync worker per open page for as long as the job runs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from studio.models import GenerationJob
from studio.permissions import (
    Need,
    brief_for_user,
    generation_job_for_user,
    role_allows,
    role_in,
)
from studio.selectors.generation import brief_latest_job, job_live, job_problem
from studio.services.briefs import brief_regenerate
from studio.services.errors import StudioError
from studio.services.generation import job_cancel
from studio.services.throttling import GenerationThrottled, generation_throttle
from studio.views.briefs import brief_detail
from studio.views.errors import error_text


def _status_response(
    request: HttpRequest, brief_id: int, *, throttled: GenerationThrottled | None = None,
    notice: str = "",
) -> HttpResponse:
    brief = brief_for_user(request.user, brief_id)
    job = brief_latest_job(brief=brief)
    role = role_in(request.user, brief.project.team_id)
    is_admin = role_allows(role, Need.ADMIN)
    response = render(request, "studio/briefs/_status.html",
                      {"brief": brief, "job": job, "throttled": throttled, "is_admin": is_admin,
                       "can_submit": role_allows(role, Need.SUBMIT),
                       "live": job_live(job=job), "notice": notice,
                       "oob": bool(request.htmx),  # type: ignore[attr-defined]
                       "problem": job_problem(job=job, project=brief.project,
                                              is_admin=is_admin)},
                      status=throttled.status_code if throttled else 200)
    if request.htmx and job is not None and job.status not in GenerationJob.ACTIVE:  # type: ignore[attr-defined]
        # The poll that sees the job end tells the page to show the new drafts.
        response["HX-Trigger"] = "drafts-ready"
    return response


@login_required
@vary_on_headers("HX-Request")
def brief_status(request: HttpRequest, brief_id: int) -> HttpResponse:
    return _status_response(request, brief_id)


@login_required
@require_POST
def brief_regenerate_view(request: HttpRequest, brief_id: int) -> HttpResponse:
    brief = brief_for_user(request.user, brief_id, need=Need.SUBMIT)
    try:
        generation_throttle(team_id=brief.project.team_id)
    except GenerationThrottled as exc:
        return _throttled(request, brief.pk, exc)
    try:
        # "replace" comes from the button's confirmed question while a run is writing.
        brief_regenerate(user=request.user, brief_id=brief.pk,
                         replace=request.POST.get("replace") == "1")
    except StudioError as exc:
        notice = error_text(exc)
        if not request.htmx:  # type: ignore[attr-defined]
            messages.error(request, notice)
    else:
        notice = "New variants queued; the drafts you have stay."
        if not request.htmx:  # type: ignore[attr-defined]
            messages.success(request, notice)
    if request.htmx:  # type: ignore[attr-defined]
        return _status_response(request, brief.pk, notice=notice)
    return _back(request, brief)


@login_required
@require_POST
def generation_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = job_cancel(user=request.user, job_id=job_id)
    except StudioError as exc:
        notice = error_text(exc)
        job = generation_job_for_user(request.user, job_id)
    else:
        notice = "Run cancelled; the drafts you have stay."
    if request.htmx:  # type: ignore[attr-defined]
        return _status_response(request, job.brief_id, notice=notice)
    messages.info(request, notice)
    return _back(request, job.brief)


def _back(request: HttpRequest, brief: Any) -> HttpResponse:
    back = request.META.get("HTTP_REFERER", "")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(back)
    return redirect(reverse("project_detail", kwargs={"project_id": brief.project_id}))


def _throttled(request: HttpRequest, brief_id: int, exc: GenerationThrottled) -> HttpResponse:
    """429: the status block says when to try again (htmx), or the brief's page does."""
    if request.htmx:  # type: ignore[attr-defined]
        response = _status_response(request, brief_id, throttled=exc)
    else:
        messages.error(request, f"{exc} Nothing was queued.")
        response = brief_detail(request, brief_id)
        response.status_code = exc.status_code
    response["Retry-After"] = str(exc.wait)
    return response
