"""Notification e-mails and the overdue-drafts check (queue ``default``)."""

from __future__ import annotations

from celery import shared_task

from studio.services import notifications as svc


@shared_task(name="studio.tasks.notifications.send_notification_emails",
             autoretry_for=(OSError,), max_retries=5, retry_backoff=10, retry_backoff_max=600)
def send_notification_emails(notification_ids: list[int]) -> int:
    return svc.notifications_email(notification_ids=notification_ids)


@shared_task(name="studio.tasks.notifications.notify_overdue_drafts")
def notify_overdue_drafts() -> int:
    return svc.notify_overdue_drafts()
