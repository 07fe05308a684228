from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from studio.forms import ProjectSettingsForm
from studio.permissions import Need, project_for_user, role_allows, role_in, team_for_user
from studio.services.projects import project_create, project_update_settings


def _apply_errors(form: ProjectSettingsForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    team = request.team  # type: ignore[attr-defined]
    if team is None:
        raise Http404("You are not a member of any team")
    team_for_user(request.user, team.pk, need=Need.ADMIN)
    form = ProjectSettingsForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(user=request.user, team_id=team.pk, data=form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project_detail", project_id=project.pk)
    return render(request, "studio/project_new.html", {"form": form})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id)
    role = role_in(request.user, project.team_id)
    return render(
        request,
        "studio/project_detail.html",
        {
            "project": project,
            "can_admin": role_allows(role, Need.ADMIN),
            "can_submit": role_allows(role, Need.SUBMIT),
            "can_review": role_allows(role, Need.REVIEW),
        },
    )


@login_required
@never_cache  # the page shows the webhook signing secret
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    if request.method == "POST" and "rotate_webhook_secret" in request.POST:
        project_update_settings(user=request.user, project_id=project.pk, data={},
                                rotate_webhook_secret=True)
        messages.success(request, "New webhook secret generated; the old one no longer "
                         "signs deliveries.")
        return redirect("project_settings", project_id=project.pk)
    form = ProjectSettingsForm(request.POST or None, instance=project)
    if request.method == "POST":
        if form.is_valid():
            try:
                project_update_settings(
                    user=request.user, project_id=project.pk, data=form.cleaned_data
                )
            except (ValidationError, PermissionDenied) as exc:
                if isinstance(exc, PermissionDenied):
                    raise
                _apply_errors(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("project_settings", project_id=project.pk)
        # Show the saved name in the header, not a rejected one.
        project.refresh_from_db()
    return render(request, "studio/project_settings.html", {"project": project, "form": form})
