"""Which team the user is working in: kept in the session, checked on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
