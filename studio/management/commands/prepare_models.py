"""Make the default base model ready before workers need it (converted once, then cached)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Convert the default base model into the model cache, once."

    def handle(self, *args: Any, **options: Any) -> None:
        from generation.models import resolve_model_dir

        path = resolve_model_dir(settings.DEFAULT_BASE_MODEL, cache_dir=settings.MODEL_CACHE_DIR)
        self.stdout.write(f"Base model ready: {settings.DEFAULT_BASE_MODEL} at {path}")
