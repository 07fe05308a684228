"""The Celery app: queues, routes and the reliability settings every worker shares.

Queues: ``generate`` (model inference, one task per worker process at a time),
``train`` (fine-tuning), ``default`` (housekeeping: the reconciler, auto-retrain).
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio", include=["studio.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUE_GENERATE = "generate"
QUEUE_TRAIN = "train"
QUEUE_DEFAULT = "default"


def configure(app: Celery) -> None:
    from django.conf import settings

    longest_task = max(settings.GENERATION_TASK_TIME_LIMIT, settings.TRAINING_TASK_TIME_LIMIT)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_DEFAULT,
        task_queues=[Queue(QUEUE_GENERATE), Queue(QUEUE_TRAIN), Queue(QUEUE_DEFAULT)],
        task_routes={
            "studio.tasks.generation.*": {"queue": QUEUE_GENERATE},
            "studio.tasks.training.*": {"queue": QUEUE_TRAIN},
            "studio.tasks.housekeeping.*": {"queue": QUEUE_DEFAULT},
        },
        # A model task holds a GPU: take one message at a time, ack it only when done,
        # and give it back to the queue when the worker dies under it.
        worker_prefetch_multiplier=1,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        # Redis redelivers an unacked message after visibility_timeout: it must outlast
        # the longest task, or a long job would run twice.
        broker_transport_options={"visibility_timeout": longest_task + 3600},
        result_expires=24 * 3600,
        worker_send_task_events=False,
        broker_connection_timeout=2,
        beat_schedule={
            "reconcile-generation-jobs": {
                "task": "studio.tasks.housekeeping.reconcile_jobs",
                "schedule": float(settings.RECONCILE_EVERY),
            },
        },
    )


configure(app)
