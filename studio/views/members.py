from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from studio.forms import MemberAddForm, MemberRoleForm
from studio.models import Role
from studio.permissions import Need, membership_for_user, team_for_user
from studio.selectors.projects import team_members
from studio.services.errors import StudioError
from studio.services.members import member_invite, member_remove, member_set_role
from studio.views.errors import error_text, form_add_error


@login_required
@never_cache  # the page can carry a new member's one-time password
def team_members_page(request: HttpRequest, team_id: int) -> HttpResponse:
    """The team's members; the form invites a new person (see ``member_invite``)."""
    team = team_for_user(request.user, team_id, need=Need.ADMIN)
    form = MemberAddForm(request.POST or None)
    invited: dict[str, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            membership, password = member_invite(user=request.user, team_id=team.pk,
                                                 **form.cleaned_data)
        except ValidationError as exc:
            form_add_error(form, exc)
        else:
            # Shown on this response only: never put in a message, a cookie or the URL.
            invited = {"username": membership.user.get_username(), "password": password,
                       "role": membership.get_role_display()}
            form = MemberAddForm()
    return render(
        request,
        "studio/team_members.html",
        {"team": team, "members": team_members(team=team), "form": form, "roles": Role.choices,
         "invited": invited},
    )


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = membership_for_user(request.user, membership_id, need=Need.ADMIN)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin, editor or marketer.")
    else:
        try:
            member_set_role(
                user=request.user, membership_id=membership.pk, role=form.cleaned_data["role"]
            )
        except (ValidationError, StudioError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"{membership.user.username} is now {form.cleaned_data['role']}.")
    return redirect("team_members", team_id=membership.team_id)


@login_required
@require_POST
def member_delete(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = membership_for_user(request.user, membership_id, need=Need.ADMIN)
    team_id = membership.team_id
    try:
        member_remove(user=request.user, membership_id=membership.pk)
    except (ValidationError, StudioError) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{membership.user.username} removed from the team.")
    if membership.user_id == request.user.pk:
        return redirect("dashboard")
    return redirect("team_members", team_id=team_id)
