"""Which team the user is working in: kept in the session, checked on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from studio.models import Membership

SESSION_KEY = "studio_team_id"


class CurrentTeamMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.team = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            memberships = Membership.objects.filter(user_id=request.user.pk).select_related("team")
            wanted = request.session.get(SESSION_KEY)
            chosen = None
            for membership in memberships:
                if chosen is None or membership.team_id == wanted:
                    chosen = membership
                if membership.team_id == wanted:
                    break
            if chosen is not None:
                request.membership = chosen  # type: ignore[attr-defined]
                request.team = chosen.team  # type: ignore[attr-defined]
        return self.get_response(request)


# Set in the session when a one-time password was used to sign in (views.accounts).
PASSWORD_MUST_CHANGE = "studio_password_must_change"  # noqa: S105 - a session key


class PasswordChangeRequiredMiddleware:
    """A session signed in with a one-time password reaches nothing but the page that
    sets a new password (and log out): pages redirect there, the API answers 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and request.session.get(PASSWORD_MUST_CHANGE):
            allowed = {reverse("password_set"), reverse("logout")}
            if request.path not in allowed and not request.path.startswith(settings.STATIC_URL):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Choose a new password first (your one-time password is "
                                   "used up)."}, status=403)
                return redirect("password_set")
        return self.get_response(request)
