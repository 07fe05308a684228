"""What generation and training jobs share: a claim on a job row, and when it goes stale.

A job is claimed by a conditional UPDATE that writes a fresh token; the worker keeps
the claim alive with heartbeats, and a claim whose heartbeat is older than the job
kind's "stuck after" setting may be taken over by another worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone


@dataclass(frozen=True)
class Claim:
    job_id: int
    token: str
    attempts: int


def stale_before(seconds: int) -> datetime:
    """Heartbeats older than this moment belong to a worker presumed dead."""
    return timezone.now() - timedelta(seconds=seconds)
