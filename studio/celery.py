"""The Celery app: queues, routes and the reliability settings every worker shares.

Queues: ``generate`` (model inference, one task per worker process at a time),
``train`` (fine-tuning), ``default`` (housekeeping: the reconciler, auto-retrain).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio", include=["studio.tasks"])
# Every setting is a CELERY_* entry of studio/settings.py (read lazily, on first use).
app.config_from_object("django.conf:settings", namespace="CELERY")


