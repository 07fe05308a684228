"""Health check, the API root and the JSON 404 for any other URL under /api/."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from studio.api.base import (
    StudioAPIView,
)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the web process can reach its database; 503 otherwise. No login."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database error means "not healthy"
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


class ApiRootView(StudioAPIView):
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return reverse(name, request=request)

        return Response({
            "projects": link("api:project-list"),
            "drafts": link("api:draft-list"),
            "schema": link("schema"),
            "docs": link("api-docs"),
        })


class ApiNotFoundView(StudioAPIView):
    """Any other URL under /api/ (a malformed id, a typo): a JSON 404, not the HTML page."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get
