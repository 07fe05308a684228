from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from studio.models import Project, Team
from studio.models.projects import SETTINGS_FIELDS
from studio.permissions import Need, project_for_user, team_for_user
from studio.services.audit import audit_record
from studio.services.members import is_operator
from studio.services.webhooks import webhook_secret_new, webhook_url_validate

# An operator may also set a project's base model (README: "A larger base model").
OPERATOR_FIELDS = (*SETTINGS_FIELDS, "base_model")


def _snapshot(project: Project) -> dict[str, Any]:
    return {field: getattr(project, field) for field in OPERATOR_FIELDS}


def _webhook_prepare(project: Project, *, old_url: str, rotate_secret: bool) -> None:
    """Check a new webhook URL (SSRF guard; DNS is asked only when the URL changed) and
    give the project a signing secret when it first gets a URL, or on request."""
    if project.webhook_url and project.webhook_url != old_url:
        webhook_url_validate(project.webhook_url)
    if rotate_secret or (project.webhook_url and not project.webhook_secret):
        project.webhook_secret = webhook_secret_new()


def project_create(*, user: Any, team_id: int, data: dict[str, Any]) -> Project:
    """Create a project in a team the user administers. Raises ValidationError on a clash."""
    team: Team = team_for_user(user, team_id, need=Need.ADMIN)
    project = Project(team=team, **{k: v for k, v in data.items() if k in SETTINGS_FIELDS})
    project.full_clean()
    _webhook_prepare(project, old_url="", rotate_secret=False)
    try:
        with transaction.atomic():
            project.save()
            audit_record(actor=user, team=team, verb="project.create", obj=project,
                         after=_snapshot(project))
    except IntegrityError as exc:
        raise ValidationError({"name": "This team already has a project with that name."}) from exc
    return project


def project_update_settings(
    *, user: Any, project_id: int, data: dict[str, Any], rotate_webhook_secret: bool = False
) -> Project:
    """Change brand voice, style rules, banned terms, learning policy and webhook URL
    (admins only); ``rotate_webhook_secret`` replaces the webhook signing secret."""
    fields: tuple[str, ...] = SETTINGS_FIELDS
    if is_operator(user):
        # The Django admin (operators only): the same rules, plus the base model.
        fields = OPERATOR_FIELDS
        try:
            project = Project.objects.select_related("team").get(pk=project_id)
        except Project.DoesNotExist as exc:
            raise Http404("Not found") from exc
    else:
        project = project_for_user(user, project_id, need=Need.ADMIN)
    before = _snapshot(project)
    for field, value in data.items():
        if field in fields:
            setattr(project, field, value)
    project.full_clean()
    _webhook_prepare(project, old_url=before["webhook_url"],
                     rotate_secret=rotate_webhook_secret)
    # The secret itself never goes into the audit log.
    after = _snapshot(project) | ({"webhook_secret": "rotated"} if rotate_webhook_secret
                                  else {})
    try:
        with transaction.atomic():
            # Only the settings: a promote or rollback that lands between the read above
            # and this save must not be undone by writing back a stale live_model.
            project.save(update_fields=[*fields, "webhook_secret", "updated_at"])
            audit_record(actor=user, team=project.team, verb="project.settings", obj=project,
                         before=before, after=after)
    except IntegrityError as exc:
        raise ValidationError({"name": "This team already has a project with that name."}) from exc
    return project
