from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from studio.models import Brief, Draft, Membership, Project, Team
from studio.permissions import projects_visible_to


def _count_per_project(model: type[Model], **filters: Any) -> Coalesce:
    # A correlated subquery per count: joining briefs and drafts in one query would
    # multiply rows on large projects.
    rows = (
        model._default_manager.filter(project=OuterRef("pk"), **filters)
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def dashboard_projects(*, user: Any, team: Team | None) -> QuerySet[Project]:
    """The user's projects in the current team, with the counts the dashboard shows."""
    qs = projects_visible_to(user)
    if team is not None:
        qs = qs.filter(team=team)
    return (
        qs.select_related("live_model")
        .annotate(
            briefs_waiting=_count_per_project(
                Brief, status__in=[Brief.Status.QUEUED, Brief.Status.GENERATING]
            ),
            drafts_to_review=_count_per_project(Draft, status=Draft.Status.PENDING),
        )
        .order_by("name")
    )


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")
