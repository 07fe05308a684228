"""Celery tasks: the only code that runs generation/ models. Ids in, one service call."""

from studio.tasks import generation, housekeeping, training, webhooks

__all__ = ["generation", "housekeeping", "training", "webhooks"]
