"""Reads of the training pages: examples (filtered), jobs, versions, exports, chart data.

Every query starts from a ``*_visible_to(user)`` queryset and is narrowed to one
project, so another team's rows can never appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from generation.training import PreferenceExample, SFTExample, to_jsonl
from generation.training.pairing import ExampleRow, pair_examples
from studio.models import ModelVersion, Project, TrainingExample, TrainingJob
from studio.permissions import (
    examples_visible_to,
    training_jobs_visible_to,
    versions_visible_to,
)
from studio.selectors.filters import FilterField, Filters

EXPORT_FORMATS = {"sft": "SFT (messages)", "dpo": "DPO (prompt / chosen / rejected)"}


EXAMPLE_FILTERS: tuple[FilterField, ...] = (
    FilterField("kind", choices=lambda: TrainingExample.Kind.choices),
    FilterField("state", choices=lambda: ["included", "excluded"]),
    FilterField("q", max_length=200, help="Words in the prompt or either completion."),
)


@dataclass(frozen=True)
class ExampleFilters(Filters):
    """The training examples' filters (page and API)."""

    FIELDS = EXAMPLE_FILTERS
    kind: str = ""
    state: str = ""
    q: str = ""


def training_examples_for(
    user: Any, *, project: Project, filters: ExampleFilters
) -> QuerySet[TrainingExample]:
    qs = examples_visible_to(user).filter(project=project)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.state:
        qs = qs.filter(excluded=filters.state == "excluded")
    if filters.q:
        qs = qs.filter(
            Q(completion__icontains=filters.q)
            | Q(rejected_completion__icontains=filters.q)
            | Q(prompt__icontains=filters.q)
        )
    return qs.order_by("-created_at", "-pk")


def training_example_counts(user: Any, *, project: Project) -> dict[str, int]:
    rows = examples_visible_to(user).filter(project=project, excluded=False).values_list(
        "kind", flat=True
    )
    counts = dict.fromkeys(TrainingExample.Kind.values, 0)
    for kind in rows.iterator():
        counts[kind] = counts.get(kind, 0) + 1
    counts["excluded"] = examples_visible_to(user).filter(project=project, excluded=True).count()
    return counts


def training_export_jsonl(user: Any, *, project: Project, fmt: str) -> str:
    """The project's non-excluded examples as JSONL records TRL reads: ``sft`` gives
    conversational "messages" records, ``dpo`` prompt/chosen/rejected pairs. The same
    examples a snapshot trains on (rejected drafts paired with approved texts included)."""
    sft, pref = examples_as_dataset(
        examples_visible_to(user).filter(project=project, excluded=False)
    )
    if fmt == "sft":
        return to_jsonl([example.to_messages_record() for example in sft])
    return to_jsonl([example.to_record() for example in pref])


def training_jobs_for(user: Any, *, project: Project) -> QuerySet[TrainingJob]:
    return (training_jobs_visible_to(user).filter(project=project)
            .select_related("requested_by", "snapshot", "version").order_by("-created_at", "-pk"))


def model_versions_for(user: Any, *, project: Project) -> QuerySet[ModelVersion]:
    return (versions_visible_to(user).filter(project=project)
            .select_related("parent", "snapshot", "training_job").order_by("-number"))


def model_rollback_target(user: Any, *, project: Project) -> ModelVersion | None:
    """Where a roll back would go when the live version breaks: the newest archived
    version whose load check has not failed (the live version's parent first)."""
    live = project.live_model
    candidates = (versions_visible_to(user).filter(project=project,
                                                   status=ModelVersion.Status.ARCHIVED)
                  .exclude(load_check=ModelVersion.LoadCheck.FAILED).order_by("-number"))
    if live is not None and live.parent_id is not None:
        parent = candidates.filter(pk=live.parent_id).first()
        if parent is not None:
            return parent
    return candidates.first()


def training_job_elapsed(job: TrainingJob) -> int | None:
    if job.started_at is None:
        return None
    end = job.finished_at or timezone.now()
    return max(0, int((end - job.started_at).total_seconds()))


def training_job_chart(job: TrainingJob) -> dict[str, Any]:
    """Loss curve as Chart.js data: one x label per (phase, step), train and eval series."""
    points: dict[tuple[int, int], dict[str, Any]] = {}
    phases = {"sft": 0, "dpo": 1}
    for p in job.loss_curve or []:
        key = (phases.get(str(p.get("phase")), 2), int(p.get("step", 0)))
        slot = points.setdefault(key, {"label": f"{p.get('phase', '')} {key[1]}"})
        for name in ("loss", "eval_loss"):
            if isinstance(p.get(name), int | float):
                slot[name] = p[name]
    ordered = [points[k] for k in sorted(points)]
    return {
        "labels": [p["label"] for p in ordered],
        "train": [p.get("loss") for p in ordered],
        "eval": [p.get("eval_loss") for p in ordered],
        "status": job.status,
        "active": job.status in TrainingJob.ACTIVE,
    }


# --- Examples as training data -------------------------------------------------------

# What a dataset is built from: one tuple per TrainingExample row (see
# ``generation.training.pairing.ExampleRow``).
ROW_FIELDS = ("pk", "project_id", "kind", "prompt", "completion", "rejected_completion")


def training_examples(project: Project) -> Any:
    """The project's examples that go into training (never another project's)."""
    return TrainingExample.objects.filter(project=project, excluded=False)


def dataset_examples(project: Project) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """The project's non-excluded examples as the library's dataclasses."""
    return examples_as_dataset(training_examples(project))


def examples_as_dataset(
    examples: QuerySet[TrainingExample],
) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """Training examples (one project's, excluded ones already left out) as SFT examples
    and preference pairs, in a fixed order: see ``generation.training.pairing`` for what
    each kind of example teaches. A malformed row is skipped and logged.
    """
    sft, pref, _ = pair_examples(example_rows(examples))
    return sft, pref




def example_rows(examples: QuerySet[TrainingExample]) -> Iterator[ExampleRow]:
    """The examples as the rows ``pair_examples`` reads, ascending pk."""
    return examples.order_by("pk").values_list(*ROW_FIELDS).iterator()
