from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from studio.models import Project, Team
from studio.permissions import Need, project_for_user, team_for_user
from studio.services.audit import audit_record

SETTINGS_FIELDS = (
    "name",
    "brand_voice",
    "style_must",
    "style_must_not",
    "banned_terms",
    "auto_retrain_threshold",
    "auto_promote",
)


def _snapshot(project: Project) -> dict[str, Any]:
    return {field: getattr(project, field) for field in SETTINGS_FIELDS}


def project_create(*, user: Any, team_id: int, data: dict[str, Any]) -> Project:
    """Create a project in a team the user administers. Raises ValidationError on a clash."""
    team: Team = team_for_user(user, team_id, need=Need.ADMIN)
    project = Project(team=team, **{k: v for k, v in data.items() if k in SETTINGS_FIELDS})
    project.full_clean()
    try:
        with transaction.atomic():
            project.save()
            audit_record(actor=user, team=team, verb="project.create", obj=project,
                         after=_snapshot(project))
    except IntegrityError as exc:
        raise ValidationError({"name": "This team already has a project with that name."}) from exc
    return project


def project_update_settings(*, user: Any, project_id: int, data: dict[str, Any]) -> Project:
    """Change brand voice, style rules, banned terms and learning policy (admins only)."""
    project = project_for_user(user, project_id, need=Need.ADMIN)
    before = _snapshot(project)
    for field, value in data.items():
        if field in SETTINGS_FIELDS:
            setattr(project, field, value)
    project.full_clean()
    try:
        with transaction.atomic():
            project.save()
            audit_record(actor=user, team=project.team, verb="project.settings", obj=project,
                         before=before, after=_snapshot(project))
    except IntegrityError as exc:
        raise ValidationError({"name": "This team already has a project with that name."}) from exc
    return project
