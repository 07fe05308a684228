"""URLs of training data, retraining jobs and model versions (issue 6)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
