"""Periodic housekeeping (queue ``default``), scheduled by beat in studio/celery.py."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="studio.tasks.housekeeping.reconcile_jobs")
def reconcile_jobs() -> list[int]:
    from studio.services.generation import jobs_reconcile

    return jobs_reconcile()
