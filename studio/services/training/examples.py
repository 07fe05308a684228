"""Training examples: an admin excludes one from training, or includes it again. (Which
examples train, and as what, is read by ``studio.selectors.training``.)"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404

from studio.models import TrainingExample
from studio.permissions import Need, project_for_user
from studio.services.audit import audit_record


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
