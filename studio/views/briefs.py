"""The brief desk: write a brief (one form per kind), follow briefs, pick A/B variants."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from generation.prompts import KINDS
from studio.forms.briefs import brief_form_class
from studio.models import Brief
from studio.models.briefs import kind_choices
from studio.models.reviews import REJECT_REASONS
from studio.permissions import (
    Need,
    assignees_for,
    brief_for_user,
    draft_for_user,
    project_for_user,
    role_allows,
    role_in,
)
from studio.selectors.briefs import (
    ACTIVE_STATUSES,
    BRIEF_PAGE_SIZE,
    BriefFilters,
    brief_page,
    project_briefs,
)
from studio.selectors.filters import ORDER_CHOICES, PAGE_SIZES, page_size
from studio.selectors.generation import job_live, job_problem
from studio.selectors.knowledge import job_knowledge
from studio.services.briefs import brief_submit
from studio.services.errors import StudioError
from studio.services.reviews import draft_set_ab_pick
from studio.services.throttling import GenerationThrottled
from studio.views.errors import error_text


@login_required
@vary_on_headers("HX-Request")
def brief_desk(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id)
    filters = BriefFilters.from_query(request.GET)
    paginator = Paginator(project_briefs(user=request.user, project=project, filters=filters),
                          page_size(filters.size, BRIEF_PAGE_SIZE))
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "project": project,
        "filters": filters,
        "page": page,
        "kinds": kind_choices(),
        "statuses": Brief.Status.choices,
        "orders": list(ORDER_CHOICES.items()),
        "sizes": PAGE_SIZES,
        "live": any(b.status in ACTIVE_STATUSES for b in page),
        "can_submit": role_allows(role_in(request.user, project.team_id), Need.SUBMIT),
    }
    template = "studio/briefs/desk.html"
    if request.htmx and request.htmx.target == "brief-results":  # type: ignore[attr-defined]
        template += "#results"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def brief_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.SUBMIT)
    params = request.POST if request.method == "POST" else request.GET
    kind = params.get("kind", "")
    form_class = brief_form_class(kind)
    form = None
    throttled: GenerationThrottled | None = None
    if form_class is not None:
        form = form_class(request.POST if request.method == "POST" else None,
                          language=project.language)
    if request.method == "POST" and form is not None:
        data = request.POST.dict()
        data["kind"] = kind
        try:
            brief = brief_submit(user=request.user, project_id=project.pk, data=data)
        except ValidationError as exc:
            # The same form the service used: errors go next to their fields. A refusal
            # about a field the form has not got (a crafted post) shows above the form.
            if form.is_valid():
                form.add_error(None, exc.messages)
        except GenerationThrottled as exc:
            throttled = exc  # the bound form shows back everything that was typed
        else:
            messages.success(request, f"Brief “{brief.title}” saved and queued for writing.")
            url = reverse("brief_detail", kwargs={"brief_id": brief.pk})
            if request.htmx:  # type: ignore[attr-defined]
                return HttpResponseClientRedirect(url)
            return redirect(url)
    context = {
        "project": project,
        "kind": kind if form is not None else "",
        "kind_label": KINDS[kind].label if form is not None else "",
        "form": form,
        "kinds": [(spec.name, spec.label, spec.hint) for spec in KINDS.values()],
        "throttled": throttled,
    }
    template = "studio/briefs/new.html"
    if request.htmx and request.htmx.target == "brief-form":  # type: ignore[attr-defined]
        template += "#form"
    if throttled is None:
        return render(request, template, context)
    response = render(request, template, context, status=throttled.status_code)
    response["Retry-After"] = str(throttled.wait)
    return response


@login_required
def brief_detail(request: HttpRequest, brief_id: int) -> HttpResponse:
    brief = brief_for_user(request.user, brief_id)
    role = role_in(request.user, brief.project.team_id)
    page = brief_page(brief=brief, with_decisions=True)
    is_admin = role_allows(role, Need.ADMIN)
    return render(request, "studio/briefs/detail.html", {
        "brief": brief,
        "project": brief.project,
        "page": page,
        "reasons": list(REJECT_REASONS.items()),
        "can_submit": role_allows(role, Need.SUBMIT),
        "can_ab_test": role_allows(role, Need.AB_TEST),
        "can_review": role_allows(role, Need.REVIEW),
        "assignees": assignees_for(request.user, brief.project.team_id),
        "is_admin": is_admin,
        "problem": job_problem(job=page.latest_job, project=brief.project, is_admin=is_admin),
        "live": job_live(job=page.latest_job),
        "facts_used": job_knowledge(job=page.latest_job),
    })


@login_required
@require_POST
def draft_ab_pick(request: HttpRequest, draft_id: int) -> HttpResponse:
    picked = request.POST.get("picked") == "1"
    try:
        draft = draft_set_ab_pick(user=request.user, draft_id=draft_id, picked=picked)
    except StudioError as exc:
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponse(error_text(exc), status=422)
        messages.error(request, error_text(exc))
        draft = draft_for_user(request.user, draft_id, need=Need.AB_TEST)
        return redirect("brief_detail", brief_id=draft.job.brief_id)
    if request.htmx:  # type: ignore[attr-defined]
        role = role_in(request.user, draft.project.team_id)
        response = render(request, "studio/briefs/detail.html#ab-pick", {
            "draft": draft, "can_ab_test": True, "can_review": role_allows(role, Need.REVIEW),
        })
        response["HX-Trigger"] = "ab-picks-changed"  # the A/B results section reloads
        return response
    return redirect("brief_detail", brief_id=draft.job.brief_id)
