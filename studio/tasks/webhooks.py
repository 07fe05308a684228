"""Webhook delivery (queue ``default``): one event POSTed to a project's URL.

Retried with exponential backoff (2, 4, 8 … s) on network errors, 5xx and 429, up to
MAX_ATTEMPTS in all (Celery's own backoff; after the last the task fails with the last
error); any other answer, and a URL refused by the SSRF guard, is final.
Running twice is harmless: both POSTs carry the same X-Studio-Delivery id.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from studio.services import webhooks as svc


@shared_task(name="studio.tasks.webhooks.deliver_webhook",
             autoretry_for=(svc.WebhookRetry,), max_retries=svc.MAX_ATTEMPTS - 1,
             retry_backoff=2, retry_backoff_max=svc.BACKOFF_CAP_S, retry_jitter=False)
def deliver_webhook(project_id: int, event: str, payload: dict[str, Any], event_id: str) -> str:
    return svc.webhook_deliver(project_id=project_id, event=event, payload=payload,
                               event_id=event_id)
