"""Celery tasks: the only code that imports generation/. Ids in, one service call."""
