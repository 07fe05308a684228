"""Live generation status of a brief (htmx polling) and regenerate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from studio.models import GenerationJob
from studio.permissions import Need, brief_for_user, role_allows, role_in
from studio.selectors.generation import brief_latest_job, job_problem
from studio.services.briefs import brief_regenerate
from studio.services.errors import StudioError
from studio.services.throttling import GenerationThrottled, generation_throttle
from studio.views.briefs import brief_detail
from studio.views.errors import error_text


def _status_response(
    request: HttpRequest, brief_id: int, *, throttled: GenerationThrottled | None = None
) -> HttpResponse:
    brief = brief_for_user(request.user, brief_id)
    job = brief_latest_job(brief=brief)
    is_admin = role_allows(role_in(request.user, brief.project.team_id), Need.ADMIN)
    response = render(request, "studio/briefs/_status.html",
                      {"brief": brief, "job": job, "throttled": throttled, "is_admin": is_admin,
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
        brief_regenerate(user=request.user, brief_id=brief.pk)
    except StudioError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "New variants queued; the drafts you have stay.")
    if request.htmx:  # type: ignore[attr-defined]
        return _status_response(request, brief.pk)
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
