"""The review workspace: the queue, one draft at a time, decisions that load the next."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from studio.models import Draft, Project, Team
from studio.permissions import (
    Need,
    assignees_for,
    draft_for_user,
    project_for_user,
    team_for_user,
)
from studio.selectors.knowledge import job_knowledge
from studio.selectors.reviews import (
    QueueFilters,
    diff_stats,
    draft_history,
    queue_filter_options,
    queue_neighbour,
    review_queue,
    text_with_flag_marks,
    word_diff,
)
from studio.services.assignments import brief_assign, draft_assign, drafts_assign
from studio.services.errors import StudioError
from studio.services.presence import presence_beat, presence_of
from studio.services.reviews import (
    DecisionOutcome,
    DecisionsInvalid,
    ReviewDecision,
    ReviewError,
    claim_holder,
    draft_claim,
    draft_release,
    review_approve,
    review_reject,
    review_save_edit,
    reviews_decide,
)


def _int(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 12 else None


# The queue -------------------------------------------------------------------------


def _team_scope(request: HttpRequest) -> Team:
    team: Team | None = request.team  # type: ignore[attr-defined]
    if team is None:
        raise Http404("You are not a member of any team")
    return team_for_user(request.user, team.pk, need=Need.REVIEW)


QUEUE_VIEWS = (("", "All"), ("me", "My queue"), ("none", "Unassigned"))


def _queue(request: HttpRequest, *, team: Team, project: Project | None) -> HttpResponse:
    filters = QueueFilters.from_query(request.GET)
    page = review_queue(user=request.user, team=team, project=project, filters=filters,
                        after=_int(request.GET.get("after")))
    others = {k: v for k, v in filters.items().items() if k != "assigned"}
    views = [(value, label, urlencode({**others, **({"assigned": value} if value else {})}))
             for value, label in QUEUE_VIEWS]
    context = {
        "views": views,
        "presence": presence_of(draft_ids=[d.pk for d in page.rows], user=request.user),
        "assignees": assignees_for(request.user, team.pk),
        "page": page,
        "filters": filters,
        "project": project,
        "team": team,
        "options": queue_filter_options(user=request.user, team=team, project=project),
        "scope_qs": _scope_qs(project, filters),
        "queue_url": request.path,
        "now": timezone.now(),
    }
    template = "studio/review/queue.html"
    if request.htmx and request.htmx.target == "queue-results":  # type: ignore[attr-defined]
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def review_queue_page(request: HttpRequest) -> HttpResponse:
    return _queue(request, team=_team_scope(request), project=None)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def project_review_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.REVIEW)
    return _queue(request, team=project.team, project=project)


# One draft -------------------------------------------------------------------------


def _scope_qs(project: Project | None, filters: QueueFilters) -> str:
    items = filters.items()
    if project is not None:
        items = {"queue": "project", **items}
    return urlencode(items)


def _draft_scope(request: HttpRequest, draft: Draft) -> tuple[Project | None, QueueFilters]:
    params = request.POST if request.method == "POST" else request.GET
    project = draft.project if params.get("queue") == "project" else None
    return project, QueueFilters.from_query(params)


def _queue_url(draft: Draft, project: Project | None, filters: QueueFilters) -> str:
    if project is not None:
        url = reverse("project_review_queue", kwargs={"project_id": project.pk})
    else:
        url = reverse("review_queue")
    return f"{url}?{filters.querystring}" if filters.active else url


def _review_url(draft_id: int, scope_qs: str) -> str:
    url = reverse("draft_review", kwargs={"draft_id": draft_id})
    return f"{url}?{scope_qs}" if scope_qs else url


def _workspace_context(
    request: HttpRequest,
    draft: Draft,
    *,
    mine: bool,
    editor_text: str | None = None,
    errors: dict[str, list[str]] | None = None,
    conflict: ReviewError | None = None,
    notice: str = "",
    comment: str = "",
    rejecting: bool = False,
) -> dict[str, Any]:
    """What the one-draft page shows. ``comment`` is what the editor typed in the approve
    form (or, with ``rejecting``, the reject form): shown back after a refusal."""
    project, filters = _draft_scope(request, draft)
    scope_qs = _scope_qs(project, filters)
    team = draft.project.team
    neighbours = {
        direction: queue_neighbour(user=request.user, team=team, project=project, filters=filters,
                                   draft_id=draft.pk, backwards=direction == "previous")
        for direction in ("next", "previous")
    }
    text = editor_text if editor_text is not None else draft.current_text
    return {
        "draft": draft,
        "brief": draft.job.brief,
        "mine": mine,
        "holder": claim_holder(draft, request.user),
        "pending": draft.status == Draft.Status.PENDING,
        "editor_text": text,
        "model_text": text_with_flag_marks(draft.text, draft.flags),
        "diff": word_diff(draft.text, text) if text != draft.text else None,
        "diff_stats": diff_stats(draft.text, text) if text != draft.text else None,
        "diff_units": draft.project.content_language.units_label,
        "history": draft_history(draft=draft),
        "facts_used": job_knowledge(job=draft.job),
        "errors": errors or {},
        "conflict": conflict,
        "conflict_diff": (word_diff(conflict.draft.current_text, text)
                          if conflict and conflict.draft else None),
        "notice": notice,
        "scope_qs": scope_qs,
        "scope_items": parse_qsl(scope_qs),
        "queue_url": _queue_url(draft, project, filters),
        "next_url": _review_url(neighbours["next"], f"{scope_qs}&from={draft.pk}".lstrip("&"))
        if neighbours["next"] else "",
        "previous_url": _review_url(neighbours["previous"], scope_qs)
        if neighbours["previous"] else "",
        "reasons": queue_filter_options(user=request.user, team=team, project=project)["reasons"],
        "assignees": assignees_for(request.user, team.pk),
        "presence_beat": settings.PRESENCE_BEAT,
        "approve_comment": "" if rejecting else comment,
        "reject_comment": comment if rejecting else "",
        "open_reject": rejecting and bool(errors and ("reason_tags" in errors
                                                      or "comment" in errors)),
    }


def _render_workspace(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    template = "studio/review/draft.html"
    if request.htmx and request.htmx.target == "workspace":  # type: ignore[attr-defined]
        template += "#workspace"
    return render(request, template, context, status=status)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def draft_review(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The one-draft page. Opening it changes nothing (a cross-site link cannot claim
    drafts for an editor): the page claims the draft with a POST as it loads, and that
    POST gives back the draft the editor came ``from``."""
    draft = _draft_for_page(request, draft_id)
    context = _workspace_context(request, draft, mine=False)
    if context["pending"] and context["holder"] is None:
        left = _int(request.GET.get("from"))
        context["claim_from"] = left if left is not None and left != draft_id else ""
        context["claim_url"] = reverse("draft_claim", kwargs={"draft_id": draft_id})
    return _render_workspace(request, context)


@login_required
@require_POST
def draft_claim_page(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Claim the draft for REVIEW_CLAIM_SECONDS (the page posts this when it opens).

    Mine: a short note replaces the claim form. Another editor's: the whole workspace
    comes back read-only with their name, so nobody types into a draft they cannot save.
    """
    left = _int(request.POST.get("from"))
    if left is not None and left != draft_id:
        # Moving on from a draft gives its claim back at once.
        draft_release(user=request.user, draft_id=left)
    claim = draft_claim(user=request.user, draft_id=draft_id)
    if not request.htmx:  # type: ignore[attr-defined]
        project, filters = _draft_scope(request, claim.draft)
        return redirect(_review_url(draft_id, _scope_qs(project, filters)))
    if claim.mine:
        return render(request, "studio/review/draft.html#claimed", {"draft": claim.draft})
    response = render(request, "studio/review/draft.html#workspace",
                      _workspace_context(request, claim.draft, mine=False))
    response["HX-Retarget"] = "#workspace"
    response["HX-Reswap"] = "outerHTML"
    return response


def _draft_for_page(request: HttpRequest, draft_id: int) -> Draft:
    draft = draft_for_user(request.user, draft_id, need=Need.REVIEW)
    return Draft.objects.select_related(
        "project__team", "job__brief", "job__model_version", "claimed_by"
    ).get(pk=draft.pk)


def _error_dict(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {("form" if k == "__all__" else k): [str(m) for m in v]
                for k, v in exc.message_dict.items()}
    return {"form": list(exc.messages)}


def _refused(
    request: HttpRequest,
    draft_id: int,
    exc: ReviewError | ValidationError,
    text: str | None,
    *,
    rejecting: bool = False,
) -> HttpResponse:
    draft = _draft_for_page(request, draft_id)
    if request.POST.get("from") == "queue":
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "studio/review/queue.html#refused-row",
                          {"draft": draft, "notice": message}, status=409)
        messages.error(request, message)
        project, filters = _draft_scope(request, draft)
        return redirect(_queue_url(draft, project, filters))
    comment = request.POST.get("comment", "")
    if isinstance(exc, ValidationError):
        context = _workspace_context(request, draft, mine=True, editor_text=text,
                                     errors=_error_dict(exc), comment=comment,
                                     rejecting=rejecting)
        return _render_workspace(request, context, status=422)
    context = _workspace_context(request, draft, mine=claim_holder(draft, request.user) is None,
                                 editor_text=text, conflict=exc, comment=comment,
                                 rejecting=rejecting)
    return _render_workspace(request, context, status=409)


def _after_decision(request: HttpRequest, draft: Draft, notice: str) -> HttpResponse:
    """Load the next draft in the queue (htmx) or send the browser to it."""
    project, filters = _draft_scope(request, draft)
    if request.POST.get("from") == "queue":
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "studio/review/queue.html#decided-row",
                          {"draft": draft, "notice": notice})
        messages.success(request, notice)
        return redirect(_queue_url(draft, project, filters))
    next_id = queue_neighbour(user=request.user, team=draft.project.team, project=project,
                              filters=filters, draft_id=draft.pk, unclaimed_only=True)
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, notice)
        if next_id is None:
            return redirect(_queue_url(draft, project, filters))
        return redirect(_review_url(next_id, _scope_qs(project, filters)))
    if next_id is None:
        response = render(request, "studio/review/draft.html#queue-clear",
                          {"notice": notice, "queue_url": _queue_url(draft, project, filters)})
        response["HX-Push-Url"] = _queue_url(draft, project, filters)
        return response
    claim = draft_claim(user=request.user, draft_id=next_id)
    response = _render_workspace(
        request, _workspace_context(request, claim.draft, mine=claim.mine, notice=notice)
    )
    response["HX-Push-Url"] = _review_url(next_id, _scope_qs(project, filters))
    return response


def _version(request: HttpRequest) -> int | None:
    return _int(request.POST.get("version"))


_BAD_VERSION = "This form is missing the draft's version; reload the page."


@login_required
@require_POST
def draft_approve(request: HttpRequest, draft_id: int) -> HttpResponse:
    version = _version(request)
    text = request.POST.get("text")
    if version is None:
        return HttpResponseBadRequest(_BAD_VERSION)
    try:
        review = review_approve(user=request.user, draft_id=draft_id, version=version, text=text,
                                comment=request.POST.get("comment", ""))
    except (ReviewError, ValidationError) as exc:
        return _refused(request, draft_id, exc, text)
    draft = review.draft
    edited = " with your edits" if review.action == "approve_edited" else ""
    return _after_decision(request, draft, f"Approved “{draft.job.brief.title}” "
                                           f"variant {draft.variant + 1}{edited}.")


@login_required
@require_POST
def draft_reject(request: HttpRequest, draft_id: int) -> HttpResponse:
    version = _version(request)
    if version is None:
        return HttpResponseBadRequest(_BAD_VERSION)
    try:
        review = review_reject(
            user=request.user, draft_id=draft_id, version=version,
            reason_tags=request.POST.getlist("reason_tags"),
            comment=request.POST.get("comment", ""),
        )
    except (ReviewError, ValidationError) as exc:
        return _refused(request, draft_id, exc, request.POST.get("text"), rejecting=True)
    draft = review.draft
    return _after_decision(request, draft, f"Rejected “{draft.job.brief.title}” "
                                           f"variant {draft.variant + 1}.")


@login_required
@require_POST
def draft_save(request: HttpRequest, draft_id: int) -> HttpResponse:
    version = _version(request)
    text = request.POST.get("text", "")
    if version is None:
        return HttpResponseBadRequest(_BAD_VERSION)
    try:
        review_save_edit(user=request.user, draft_id=draft_id, version=version, text=text)
    except (ReviewError, ValidationError) as exc:
        return _refused(request, draft_id, exc, text)
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, "Edit saved.")
        project, filters = _draft_scope(request, Draft.objects.select_related("project")
                                        .get(pk=draft_id))
        return redirect(_review_url(draft_id, _scope_qs(project, filters)))
    claim = draft_claim(user=request.user, draft_id=draft_id)
    return _render_workspace(request, _workspace_context(
        request, claim.draft, mine=claim.mine, notice="Edit saved. Approve when it reads right.",
        comment=request.POST.get("comment", ""),  # an approve comment typed before saving
    ))


@login_required
@require_POST
def draft_diff(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The live diff under the editor's textarea: the model's text against the edit."""
    draft = draft_for_user(request.user, draft_id, need=Need.REVIEW)
    text = request.POST.get("text", "").replace("\r\n", "\n")
    return render(request, "studio/review/draft.html#diff", {
        "diff": word_diff(draft.text, text) if text != draft.text else None,
        "diff_stats": diff_stats(draft.text, text) if text != draft.text else None,
        "diff_units": draft.project.content_language.units_label,
    })


@login_required
@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    _team_scope(request)  # editors and admins only; each draft is checked again
    pairs: list[tuple[int, int]] = []
    for value in request.POST.getlist("drafts"):
        raw_id, _, raw_version = value.partition(":")
        if _int(raw_id) is not None and _int(raw_version) is not None:
            pairs.append((int(raw_id), int(raw_version)))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("review_queue")
    if not pairs:
        messages.error(request, "Select at least one draft.")
        return redirect(back)
    # One action, reasons and comment for every ticked draft (the reasons go with a
    # rejection only: the page leaves the boxes ticked when the action changes).
    action = request.POST.get("action", "")
    reason_tags = tuple(request.POST.getlist("reason_tags")) if action == "reject" else ()
    decisions = [ReviewDecision(draft_id=draft_id, action=action, version=version,
                                reason_tags=reason_tags, comment=request.POST.get("comment", ""))
                 for draft_id, version in pairs]
    try:
        results = reviews_decide(user=request.user, decisions=decisions)
    except DecisionsInvalid as exc:
        # Every item carries the same action, reasons and comment: say each fault once.
        faults = dict.fromkeys(m for errors in exc.item_errors for ms in errors.values()
                               for m in ms)
        messages.error(request, " ".join(faults))
        return redirect(back)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    decided = [r for r in results if r.outcome is DecisionOutcome.OK]
    verb = "Approved" if action == "approve" else "Rejected"
    if decided:
        messages.success(request, f"{verb} {len(decided)} "
                                  f"draft{'s' if len(decided) != 1 else ''}.")
    for result in results:
        if result.outcome is not DecisionOutcome.OK:
            messages.warning(request, f"Draft {result.decision.draft_id} skipped: {result.detail}")
    return redirect(back)


# Presence and assignment -------------------------------------------------------------


@login_required
@require_POST
def draft_presence(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The open review page's beat: answers who else has the draft open."""
    others = presence_beat(user=request.user, draft_id=draft_id)
    return render(request, "studio/review/_presence.html",
                  {"others": others, "draft_id": draft_id, "presence_beat": settings.PRESENCE_BEAT})


def _assignee_id(request: HttpRequest) -> int | None:
    value = request.POST.get("assignee", "")
    if value == "me":
        return _int(request.user.pk)
    return _int(value)


def _back(request: HttpRequest, default: str) -> str:
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return back
    return default


def _assigned_message(assignee_id: int | None, n: int) -> str:
    what = f"{n} draft{'s' if n != 1 else ''}"
    return f"Assigned {what}." if assignee_id is not None else f"Unassigned {what}."


@login_required
@require_POST
def review_assign(request: HttpRequest) -> HttpResponse:
    """Assign the drafts ticked in the queue (the bulk form's "Assign" button)."""
    back = _back(request, reverse("review_queue"))
    ids = [pk for v in request.POST.getlist("drafts")
           if (pk := _int(v.partition(":")[0])) is not None]
    if not ids:
        messages.error(request, "Select at least one draft.")
        return redirect(back)
    assignee_id = _assignee_id(request)
    try:
        results = drafts_assign(user=request.user, draft_ids=ids, assignee_id=assignee_id)
    except StudioError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, _assigned_message(assignee_id, len(results)))
    return redirect(back)


@login_required
@require_POST
def draft_assign_view(request: HttpRequest, draft_id: int) -> HttpResponse:
    assignee_id = _assignee_id(request)
    try:
        draft_assign(user=request.user, draft_id=draft_id, assignee_id=assignee_id)
    except StudioError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _assigned_message(assignee_id, 1))
    return redirect(_back(request, reverse("draft_review", kwargs={"draft_id": draft_id})))


@login_required
@require_POST
def brief_assign_view(request: HttpRequest, brief_id: int) -> HttpResponse:
    assignee_id = _assignee_id(request)
    try:
        brief = brief_assign(user=request.user, brief_id=brief_id, assignee_id=assignee_id)
    except StudioError as exc:
        messages.error(request, str(exc))
    else:
        who = brief.assigned_to.get_username() if brief.assigned_to else "nobody"
        messages.success(request, f"“{brief.title}” is assigned to {who}.")
    return redirect(_back(request, reverse("brief_detail", kwargs={"brief_id": brief_id})))
