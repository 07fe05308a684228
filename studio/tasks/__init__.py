"""Celery tasks: the only code that runs generation/ models. Ids in, one service call."""

from studio.tasks import generation, housekeeping, notifications, training, webhooks

__all__ = ["generation", "housekeeping", "notifications", "training", "webhooks"]
