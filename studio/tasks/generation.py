"""Generation tasks (queue ``generate``): ids in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="studio.tasks.generation.generate_job", acks_late=True,
             reject_on_worker_lost=True)
def generate_job(job_id: int) -> None:
    from studio.services.generation import job_run

    job_run(job_id=job_id)
