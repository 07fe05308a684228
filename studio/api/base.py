"""What every API view shares: authentication, body limits, and how service errors read.

Services raise Django's ``ValidationError``, ``Http404`` and ``PermissionDenied`` and
the ``StudioError`` family (``studio.services.errors``); here they become the API's 400
(with field messages), 404, 403, 409 and 412 answers, so a view never re-states a rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from studio.api.auth import ApiTokenAuthentication
from studio.api.parsers import PayloadTooLarge, StudioJSONParser
from studio.models import Draft, Project
from studio.permissions import Need, role_allows, role_in
from studio.services.errors import Busy, Stale, StudioError, WrongState
from studio.services.throttling import GenerationThrottled

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass
else:
    _PermissionClass = Any


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = (
        "Send If-Match with the draft's ETag (from GET /api/drafts/{id}/), e.g. If-Match: \"v3\"."
    )
    default_code = "precondition_required"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as DRF's field → messages mapping."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def draft_etag(draft: Draft) -> str:
    return f'"v{draft.version}"'


_IF_MATCH = re.compile(r'^\s*(?:W/)?"v?(\d{1,9})"\s*$|^\s*v?(\d{1,9})\s*$')


ETAG_HELP = 'Use the ETag from GET /api/drafts/{id}/, e.g. "v3".'


def etag_version(raw: str) -> int | None:
    """The version an ETag names (``"v3"``, ``W/"v3"``, ``v3`` or ``3``), or None."""
    match = _IF_MATCH.match(raw)
    return int(match.group(1) or match.group(2)) if match else None


def if_match_version(request: Request) -> int:
    """The draft version the client saw, from its If-Match header (required on writes)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() in ("", "*"):
        raise PreconditionRequired()
    version = etag_version(raw)
    if version is None:
        raise exceptions.ValidationError({"If-Match": [ETAG_HELP]})
    return version


# The one place a service's refusal becomes a status code (most specific class first).
_STATUS_FOR: tuple[tuple[type[StudioError], int], ...] = (
    (GenerationThrottled, status.HTTP_429_TOO_MANY_REQUESTS),
    (Stale, status.HTTP_412_PRECONDITION_FAILED),
    (WrongState, status.HTTP_409_CONFLICT),
    (StudioError, status.HTTP_400_BAD_REQUEST),
)


def studio_error_status(exc: StudioError) -> int:
    return next(code for cls, code in _STATUS_FOR if isinstance(exc, cls))


def studio_error_response(exc: StudioError, *, your_text: str | None = None) -> Response:
    """A refusal's answer. 400 reads like a field error; 409 and 412 carry ``detail`` and,
    for a draft, its current version and status (412: both texts, 409 for a claimed
    draft: who holds it and until when)."""
    code = studio_error_status(exc)
    draft: Draft | None = getattr(exc, "draft", None)
    if code == status.HTTP_400_BAD_REQUEST and draft is None:
        return Response({exc.field or "non_field_errors": [str(exc)]}, status=code)
    body: dict[str, Any] = {"detail": str(exc)}
    headers: dict[str, str] = {}
    if isinstance(exc, GenerationThrottled):
        headers["Retry-After"] = str(exc.wait)
    if draft is not None:
        body |= {"current_version": draft.version, "status": draft.status}
        headers["ETag"] = draft_etag(draft)
        if isinstance(exc, Stale):
            body |= {"current_text": draft.current_text, "your_text": your_text}
        elif isinstance(exc, Busy) and draft.claimed_by is not None:
            body |= {"claimed_by": draft.claimed_by.get_username(),
                     "claimed_until": draft.claimed_until}
    return Response(body, status=code, headers=headers)


def job_context(request: Request, project: Project) -> dict[str, Any]:
    """What GenerationJobSerializer needs: the project, and whether the technical
    errors may be shown (the team's admins only)."""
    return {"project": project,
            "is_admin": role_allows(role_in(request.user, project.team_id), Need.ADMIN)}


def optional_body(request: Request) -> Any:
    """The JSON body of an action whose input is optional. An empty form post (what a
    bare POST from a browser or test client sends) counts as no body, as it did before
    the action took input; anything else that is not JSON still gets 415."""
    raw = request._request
    if (request.content_type.startswith("multipart/form-data")
            and not raw.POST and not raw.FILES):
        return {}
    return request.data or {}


def refuse_body(request: Request) -> None:
    """Actions that take no input say so, instead of ignoring what was sent."""
    if not request.data:
        return
    if isinstance(request.data, dict):
        raise exceptions.ValidationError({str(name)[:100]: ["This field cannot be set here."]
                                          for name in list(request.data)[:20]})
    raise exceptions.ValidationError({"non_field_errors": ["Send no body."]})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, StudioError):
        return studio_error_response(exc)
    return exception_handler(exc, context)


def content_length(request: Request) -> int:
    """The body size the request announces (0 when it does not say)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class StudioMixin:
    """Token first so an anonymous request gets 401 with ``WWW-Authenticate: Token``;
    session auth (CSRF enforced by DRF) for the browser."""

    authentication_classes: Sequence[type[BaseAuthentication]] = [
        ApiTokenAuthentication, SessionAuthentication,
    ]
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticated]
    parser_classes: Sequence[type[BaseParser]] = [StudioJSONParser]

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        # DRF parses JSON from the raw stream, which Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        # check does not see: refuse a large body before anything reads it.
        limit = self.body_limit()
        if limit is not None and content_length(request) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit:,} bytes.")

    def body_limit(self) -> int | None:
        """The largest body this view reads (a file upload view allows more)."""
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class StudioAPIView(StudioMixin, APIView):
    pass


class SizedPagination(PageNumberPagination):
    """Pages of ``size`` rows where the list's filters allow it (25, 50 or 100)."""

    page_size_query_param = "size"
    max_page_size = 100


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not accept (``team``, ``status``, ``author``…) with a 400
    naming each, instead of silently dropping them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(str(k) for k in data if k not in writable)
            if unknown:
                raise exceptions.ValidationError(
                    {name[:100]: ["This field cannot be set here."] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


# Schema helpers ----------------------------------------------------------------------

ErrorSerializer = inline_serializer(
    "Error", {"detail": serializers.CharField()}
)
FieldErrorsSerializer = inline_serializer(
    "FieldErrors",
    {"non_field_errors": serializers.ListField(child=serializers.CharField(), required=False)},
)
ConflictSerializer = inline_serializer(
    "ReviewConflict",
    {
        "detail": serializers.CharField(),
        "current_version": serializers.IntegerField(required=False),
        "status": serializers.CharField(required=False),
        "current_text": serializers.CharField(required=False),
        "your_text": serializers.CharField(required=False, allow_null=True),
        "claimed_by": serializers.CharField(required=False),
        "claimed_until": serializers.DateTimeField(required=False, allow_null=True),
    },
)

IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True,
    description='The ETag of the draft as you saw it, e.g. "v3".',
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: OpenApiResponse(FieldErrorsSerializer, description="Invalid input (field messages)"),
        401: OpenApiResponse(ErrorSerializer, description="Not authenticated"),
        403: OpenApiResponse(ErrorSerializer, description="Your role does not allow this"),
        404: OpenApiResponse(ErrorSerializer, description="Not found (or not your team's)"),
        409: OpenApiResponse(ConflictSerializer, description="Already decided or claimed"),
        412: OpenApiResponse(ConflictSerializer, description="Stale version: both texts"),
        413: OpenApiResponse(ErrorSerializer, description="Body too large"),
        415: OpenApiResponse(ErrorSerializer, description="Send multipart/form-data"),
        428: OpenApiResponse(ErrorSerializer, description="If-Match missing"),
        429: OpenApiResponse(ErrorSerializer, description="Too many generation requests"),
    }
    return {code: described[code] for code in (401, 403, 413, *codes)}
