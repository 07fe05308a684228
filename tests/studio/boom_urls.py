"""The studio's URLs plus one view that fails, to see the 500 page (test_error_pages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from studio.urls import urlpatterns as studio_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [*studio_urlpatterns, path("boom/", boom)]
