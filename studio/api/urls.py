from __future__ import annotations

from django.urls import URLPattern, URLResolver

# The REST API (issue 7) plugs in here.
urlpatterns: list[URLPattern | URLResolver] = []
