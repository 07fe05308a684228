"""Webhook delivery (queue ``default``): one event POSTed to a project's URL.

Retried with exponential backoff (2, 4, 8 … s) on network errors, 5xx and 429, up to
MAX_ATTEMPTS in all; any other answer, and a URL refused by the SSRF guard, is final.
Running twice is harmless: both POSTs carry the same X-Studio-Delivery id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from studio.services import webhooks as svc

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="studio.tasks.webhooks.deliver_webhook",
             max_retries=svc.MAX_ATTEMPTS - 1)
def deliver_webhook(self: Any, project_id: int, event: str, payload: dict[str, Any],
                    event_id: str) -> str:
    try:
        return svc.webhook_deliver(project_id=project_id, event=event, payload=payload,
                                   event_id=event_id)
    except svc.WebhookRetry as exc:
        attempt = self.request.retries + 1
        if attempt >= svc.MAX_ATTEMPTS:
            logger.warning("webhook %s %s of project %s: %s; gave up after %s attempts",
                           event, event_id, project_id, exc, attempt)
            return f"failed: {exc}"
        countdown = svc.webhook_backoff(self.request.retries)
        logger.info("webhook %s %s of project %s: %s; retry in %ss", event, event_id,
                    project_id, exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
