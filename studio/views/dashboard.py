from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from studio.middleware import SESSION_KEY
from studio.permissions import Need, role_allows, team_for_user
from studio.selectors.projects import dashboard_projects


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    team = request.team  # type: ignore[attr-defined]
    membership = request.membership  # type: ignore[attr-defined]
    projects = dashboard_projects(user=request.user, team=team)
    return render(
        request,
        "studio/dashboard.html",
        {
            "projects": projects,
            "can_admin": role_allows(membership.role if membership else None, Need.ADMIN),
            "can_submit": role_allows(membership.role if membership else None, Need.SUBMIT),
            "can_review": role_allows(membership.role if membership else None, Need.REVIEW),
        },
    )


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    team = team_for_user(request.user, request.POST.get("team", ""))
    request.session[SESSION_KEY] = team.pk
    return redirect("dashboard")


class StudioLogoutView(LogoutView):
    """Log out (POST only, as Django's), then say so on the login page."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        # The session is gone; the message travels in the messages cookie.
        messages.info(request, "You are logged out.")
        return response
