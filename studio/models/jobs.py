"""What the job models (GenerationJob, TrainingJob) share: which rows are still active."""

from __future__ import annotations

from typing import Any

from django.db import models

# A job not over yet: waiting for a worker, or held by one. Both job models spell their
# statuses this way (their own ``ACTIVE`` names them with their choices).
ACTIVE_STATUSES = ("queued", "running")


class JobQuerySet(models.QuerySet[Any]):
    def active(self) -> JobQuerySet:
        """Jobs queued or running."""
        return self.filter(status__in=ACTIVE_STATUSES)
