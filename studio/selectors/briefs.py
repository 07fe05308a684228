"""Reads for the brief desk: a project's briefs (filtered, searched) and one brief's drafts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet

from studio.models import Brief, Draft, GenerationJob, Project, Review
from studio.models.briefs import kind_choices
from studio.models.reviews import ReviewAction
from studio.permissions import briefs_visible_to
from studio.selectors.filters import SIZE_FIELD, FilterField, Filters, order_field, search_field
from studio.selectors.search import briefs_matching

BRIEF_PAGE_SIZE = 50
ACTIVE_STATUSES = (Brief.Status.QUEUED, Brief.Status.GENERATING)


BRIEF_FILTERS: tuple[FilterField, ...] = (
    FilterField("kind", choices=kind_choices),
    FilterField("status", choices=lambda: Brief.Status.choices),
    search_field("the title, the instructions and the drafts' text"),
    order_field("newest"),
    SIZE_FIELD,
)


@dataclass(frozen=True)
class BriefFilters(Filters):
    """The brief desk's filters (page and API)."""

    FIELDS = BRIEF_FILTERS
    kind: str = ""
    status: str = ""
    q: str = ""
    order: str = ""
    size: str = ""


def project_briefs(*, user: Any, project: Project, filters: BriefFilters) -> QuerySet[Brief]:
    """The project's briefs, newest first (or oldest, or soonest deadline), with how many
    drafts wait and were approved."""
    qs = briefs_visible_to(user).filter(project=project)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.q:
        qs = briefs_matching(qs, filters.q)
    order: tuple[Any, ...] = {
        "oldest": ("created_at", "id"),
        "deadline": (F("deadline").asc(nulls_last=True), "-created_at", "-id"),
    }.get(filters.order, ("-created_at", "-id"))
    return (
        qs.select_related("author", "assigned_to")
        .only("id", "title", "kind", "status", "variants", "deadline", "created_at",
              "project_id", "author__username", "assigned_to__username")
        .annotate(
            pending=Count("jobs__drafts", filter=Q(jobs__drafts__status=Draft.Status.PENDING)),
            approved=Count("jobs__drafts", filter=Q(jobs__drafts__status=Draft.Status.APPROVED)),
        )
        .order_by(*order)
    )


@dataclass
class BriefPage:
    brief: Brief
    latest_job: GenerationJob | None
    older_jobs: list[GenerationJob]


# The reviews that decide a draft; a saved edit ("edit") is work in progress, not a decision.
DECISION_ACTIONS = (ReviewAction.APPROVE, ReviewAction.APPROVE_EDITED, ReviewAction.REJECT)


def brief_page(*, brief: Brief, with_decisions: bool = False) -> BriefPage:
    """The brief's generation jobs, newest first, each with its drafts in variant order.

    With ``with_decisions`` every draft also carries ``decisions``: its deciding reviews,
    newest first, with the reviewer — one more query however many variants there are.
    """
    drafts = Draft.objects.select_related("claimed_by").order_by("variant")
    if with_decisions:
        drafts = drafts.prefetch_related(Prefetch(
            "reviews",
            queryset=Review.objects.filter(action__in=DECISION_ACTIONS)
            .select_related("reviewer").order_by("-created_at", "-id"),
            to_attr="decisions",
        ))
    jobs = list(
        brief.jobs.select_related("model_version", "requested_by")
        .prefetch_related(Prefetch("drafts", queryset=drafts))
        .order_by("-created_at", "-id")
    )
    return BriefPage(brief=brief, latest_job=jobs[0] if jobs else None, older_jobs=jobs[1:])
