"""Training examples: which of a project's examples train, and as what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from generation.training import PreferenceExample, SFTExample
from generation.training.pairing import ExampleRow, pair_examples
from studio.models import Project, TrainingExample
from studio.permissions import Need, project_for_user
from studio.services.audit import audit_record

# What a dataset is built from: one tuple per TrainingExample row (see
# ``generation.training.pairing.ExampleRow``).
ROW_FIELDS = ("pk", "project_id", "kind", "prompt", "completion", "rejected_completion")


def example_set_excluded(*, user: Any, example_id: object, excluded: bool) -> TrainingExample:
    """Exclude an example from training (or include it again)."""
    try:
        project_id = TrainingExample.objects.values_list("project_id", flat=True).get(
            pk=int(str(example_id))
        )
    except (ValueError, TypeError, TrainingExample.DoesNotExist) as exc:
        raise Http404("Not found") from exc
    project = project_for_user(user, project_id, need=Need.ADMIN)
    with transaction.atomic():
        example = TrainingExample.objects.select_for_update().get(pk=int(str(example_id)))
        if example.excluded != excluded:
            example.excluded = excluded
            example.save(update_fields=["excluded"])
            audit_record(actor=user, team=project.team,
                         verb="example.exclude" if excluded else "example.include",
                         obj=example, before={"excluded": not excluded},
                         after={"excluded": excluded})
    return example


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
