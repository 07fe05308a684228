"""Edit cost per model version: what editors had to change before they approved.

Every decision stores on its draft how it was decided and, for an approval, the edit
from the model's text to the approved text (``Draft.decision``, ``edit_distance``,
``edit_units``, ``edit_cost``; see ``studio.services.reviews.decision_fields``). The
figures here are SQL aggregates over those columns, grouped per model version (the
base model included), per content kind and per week: a fixed number of queries
however many drafts were reviewed.

* approved as is: approved with no edit (an edit of whitespace only costs nothing and
  counts here too); approved with edits; rejected.
* acceptance: approved as is / decided.
* mean edit cost: over approvals, 0 (as written) to 1 (nothing kept); with rejections:
  a rejection counts as 1 (the whole draft had to go).
* time to decision: from the draft's creation to its decision, in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from studio.models import Draft, Project, ReviewAction
from studio.permissions import drafts_visible_to

APPROVALS = (ReviewAction.APPROVE, ReviewAction.APPROVE_EDITED)
DEFAULT_WEEKS = 26
MAX_WEEKS = 520


def _aggregates() -> dict[str, Any]:
    as_is = Q(decision__in=APPROVALS, edit_distance=0)
    return {
        "decided": Count("pk"),
        "approved_as_is": Count("pk", filter=as_is),
        "approved_with_edits": Count("pk", filter=Q(decision__in=APPROVALS) & ~as_is),
        "rejected": Count("pk", filter=Q(decision=ReviewAction.REJECT)),
        "mean_edit_cost": Avg("edit_cost"),
        "mean_cost_with_rejections": Avg(Case(
            When(decision=ReviewAction.REJECT, then=Value(1.0)),
            default=F("edit_cost"), output_field=FloatField(),
        )),
        "mean_time_to_decision": Avg(ExpressionWrapper(F("decided_at") - F("created_at"),
                                                       output_field=DurationField())),
    }


@dataclass(frozen=True)
class EditCostRow:
    """The figures of one group of decided drafts."""

    decided: int
    approved_as_is: int
    approved_with_edits: int
    rejected: int
    mean_edit_cost: float | None
    mean_cost_with_rejections: float | None
    mean_seconds_to_decision: float | None
    # What the group is: a model version (None with ``base`` true: the base model), a
    # content kind, a week (its Monday); unset when not grouped by it.
    model_version: int | None = None
    version_number: int | None = None
    base: bool = False
    kind: str | None = None
    week: date | None = None

    @property
    def acceptance(self) -> float | None:
        return self.approved_as_is / self.decided if self.decided else None

    @property
    def version_label(self) -> str:
        return "base model" if self.base else f"v{self.version_number}"


@dataclass(frozen=True)
class EditCostSummary:
    overall: EditCostRow
    by_version: list[EditCostRow] = field(default_factory=list)
    by_kind: list[EditCostRow] = field(default_factory=list)
    # One row per (week, model version) with decisions, oldest week first.
    by_week: list[EditCostRow] = field(default_factory=list)
    weeks: int = DEFAULT_WEEKS


def _row(values: Mapping[str, Any], **group: Any) -> EditCostRow:
    seconds = values.get("mean_time_to_decision")
    return EditCostRow(
        decided=values["decided"] or 0,
        approved_as_is=values["approved_as_is"] or 0,
        approved_with_edits=values["approved_with_edits"] or 0,
        rejected=values["rejected"] or 0,
        mean_edit_cost=values["mean_edit_cost"],
        mean_cost_with_rejections=values["mean_cost_with_rejections"],
        mean_seconds_to_decision=seconds.total_seconds() if seconds is not None else None,
        **group,
    )


def decided_drafts(user: Any, *, project: Project) -> QuerySet[Draft]:
    """The project's decided drafts the user may see."""
    return (drafts_visible_to(user).filter(project=project, decided_at__isnull=False)
            .exclude(decision=""))


def _version_group(values: Mapping[str, Any]) -> dict[str, Any]:
    version = values["job__model_version"]
    return {"model_version": version, "version_number": values["job__model_version__number"],
            "base": version is None}


def _week(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def edit_cost_summary(
    user: Any, *, project: Project, weeks: int = DEFAULT_WEEKS, now: datetime | None = None
) -> EditCostSummary:
    """The project's edit-cost figures overall, per model version, per content kind and
    per week and version (the last ``weeks`` weeks). Four queries, whatever the number
    of reviews."""
    weeks = max(1, min(int(weeks), MAX_WEEKS))
    drafts = decided_drafts(user, project=project)
    aggregates = _aggregates()
    overall = _row(drafts.aggregate(**aggregates))
    by_version = [
        _row(v, **_version_group(v))
        for v in drafts.values("job__model_version", "job__model_version__number")
        .annotate(**aggregates).order_by(F("job__model_version__number").asc(nulls_first=True))
    ]
    by_kind = [
        _row(v, kind=v["job__brief__kind"])
        for v in drafts.values("job__brief__kind").annotate(**aggregates)
        .order_by("job__brief__kind")
    ]
    since = (now or timezone.now()) - timedelta(weeks=weeks)
    by_week = [
        _row(v, week=_week(v["week"]), **_version_group(v))
        for v in drafts.filter(decided_at__gte=since)
        .annotate(week=TruncWeek("decided_at"))
        .values("week", "job__model_version", "job__model_version__number")
        .annotate(**aggregates)
        .order_by("week", F("job__model_version__number").asc(nulls_first=True))
    ]
    return EditCostSummary(overall=overall, by_version=by_version, by_kind=by_kind,
                           by_week=by_week, weeks=weeks)


def edit_cost_chart(summary: EditCostSummary) -> dict[str, Any]:
    """Mean edit cost per week, one series per model version, as Chart.js reads it."""
    labels = sorted({row.week.isoformat() for row in summary.by_week if row.week})
    series: dict[str, dict[str, Any]] = {}
    for row in summary.by_week:
        if row.week is None:
            continue
        entry = series.setdefault(row.version_label, {
            "label": row.version_label, "data": [None] * len(labels),
            "decided": [0] * len(labels),
        })
        i = labels.index(row.week.isoformat())
        entry["data"][i] = (round(row.mean_cost_with_rejections, 4)
                            if row.mean_cost_with_rejections is not None else None)
        entry["decided"][i] = row.decided
    return {"labels": labels, "series": list(series.values())}
