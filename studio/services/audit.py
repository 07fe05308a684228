from __future__ import annotations

from typing import Any

from django.db import models

from studio.models import AuditEvent, Team


def audit_record(
    *,
    actor: Any,
    team: Team,
    verb: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit row. Called inside the service's transaction, so it is all or none."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        team=team,
        verb=verb,
        object_type=obj._meta.model_name or type(obj).__name__.lower(),
        object_id=str(obj.pk),
        before=before or {},
        after=after or {},
    )
