"""Training examples: which of a project's examples train, and as what."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404

from studio.models import TrainingExample
from studio.permissions import Need, project_for_user
from studio.selectors.training import (
    ROW_FIELDS,
    dataset_examples,
    example_rows,
    examples_as_dataset,
    training_examples,
)
from studio.services.audit import audit_record

# The reads live in studio.selectors.training; kept importable from here for the
# services of this package.
__all__ = ["ROW_FIELDS", "dataset_examples", "example_rows", "example_set_excluded",
           "examples_as_dataset", "training_examples"]



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
