from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from studio.forms import raise_for_form
from studio.forms.briefs import BriefForm, brief_form_for
from studio.models import Brief, GenerationJob, Project
from studio.permissions import Need, brief_for_user, project_for_user
from studio.services.audit import audit_record
from studio.services.errors import Busy, WrongState
from studio.services.generation import job_cancel, job_send
from studio.services.throttling import generation_throttle

logger = logging.getLogger(__name__)

BRIEF_FIELDS = (
    "kind",
    "title",
    "instructions",
    "audience",
    "tone",
    "keywords",
    "source_text",
    "target_words",
    "variants",
    "extra",
    "deadline",
)


def brief_clean(*, kind: str, data: Mapping[str, Any], language: str = "en") -> dict[str, Any]:
    """Validate raw brief input (a form post, an API body) with the kind's own form, for
    a project writing in ``language`` (the unit of the target length).

    Returns the cleaned fields; raises ValidationError with field errors. Unknown
    top-level fields (``team``, ``status``, ``author``…) are never read. What the kind
    would not keep is refused by name instead of dropped: a ``source_text`` for a kind
    without one, and ``extra`` keys that are not the kind's own fields.
    """
    form_class = brief_form_for(kind)
    raw = dict(data)
    if isinstance(raw.get("keywords"), list | tuple):
        raw["keywords"] = ", ".join(str(k) for k in raw["keywords"])
    extra = raw.pop("extra", None)
    shape = form_class(language=language)
    refused = _what_the_kind_does_not_keep(kind=kind, shape=shape, raw=raw, extra=extra)
    if isinstance(extra, Mapping):
        raw.update({k: v for k, v in extra.items() if k in shape.extra_fields})
    form = form_class(data=raw, language=language)
    try:
        raise_for_form(form)
    except ValidationError as exc:
        raise ValidationError({**refused, **exc.message_dict}) from None
    if refused:
        raise ValidationError(refused)
    return form.to_brief_data()


def _what_the_kind_does_not_keep(
    *, kind: str, shape: BriefForm, raw: Mapping[str, Any], extra: Any
) -> dict[str, str]:
    """Field errors for input the kind would drop (refused, so nothing is lost unseen)."""
    errors: dict[str, str] = {}
    for name in BRIEF_FIELDS:
        if name not in ("kind", "extra") and name not in shape.fields \
                and raw.get(name) not in (None, ""):
            errors[name] = (f"Briefs of kind {kind} have no {name.replace('_', ' ')}; "
                            "leave it out.")
    if isinstance(extra, Mapping):
        unknown = sorted(str(key) for key in extra if key not in shape.extra_fields)
        if unknown:
            shown = ", ".join(name[:40] for name in unknown[:10])
            more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
            takes = ", ".join(shape.extra_fields) or "none"
            errors["extra"] = (f"Unknown fields for kind {kind}: {shown}{more}. "
                               f"It takes: {takes}.")
    return errors


def _new_job(*, brief: Brief, user: Any) -> GenerationJob:
    project: Project = brief.project
    return GenerationJob.objects.create(
        brief=brief,
        model_version=project.live_model,
        base_model=(project.live_model.base_model if project.live_model else "")
        or project.effective_base_model,
        requested_by=user,
        variants=brief.variants,
        seed=secrets.randbits(31),
    )


def brief_submit(*, user: Any, project_id: int, data: Mapping[str, Any]) -> Brief:
    """A brief sent from the page or the API: checked, counted against the team's
    generation limit (``GenerationThrottled``), then saved and queued as ``brief_create``.

    The checks come first, so a brief refused for its content costs the team no slot and
    its field errors are never hidden behind "try again later".
    """
    project = project_for_user(user, project_id, need=Need.SUBMIT)
    cleaned = brief_clean(kind=str(data.get("kind", "")), data=data, language=project.language)
    generation_throttle(team_id=project.team_id)
    return _brief_save(user=user, project=project, cleaned=cleaned)


def brief_create(*, user: Any, project_id: int, data: Mapping[str, Any]) -> Brief:
    """Save a brief and its first generation job in one transaction; enqueue on commit."""
    project = project_for_user(user, project_id, need=Need.SUBMIT)
    cleaned = brief_clean(kind=str(data.get("kind", "")), data=data, language=project.language)
    return _brief_save(user=user, project=project, cleaned=cleaned)


def _brief_save(*, user: Any, project: Project, cleaned: Mapping[str, Any]) -> Brief:
    with transaction.atomic():
        brief = Brief.objects.create(
            project=project,
            author=user,
            **{field: cleaned[field] for field in BRIEF_FIELDS if field in cleaned},
        )
        job = _new_job(brief=brief, user=user)
        audit_record(actor=user, team=project.team, verb="brief.create", obj=brief,
                     after={"title": brief.title, "kind": brief.kind, "job": job.pk})
        transaction.on_commit(lambda: job_send(job.pk))
    return brief


def brief_regenerate(*, user: Any, brief_id: int, replace: bool = False) -> GenerationJob:
    """Ask for a new set of variants: a new job; the drafts already written stay.

    While a run is queued or running this raises Busy, unless ``replace``: then that run
    is cancelled and the new one queued in the same transaction.
    """
    brief = brief_for_user(user, brief_id, need=Need.SUBMIT)
    with transaction.atomic():
        brief = (
            Brief.objects.select_for_update(of=("self",))
            .select_related("project__live_model")
            .get(pk=brief.pk)
        )
        running = list(brief.jobs.active().values_list("pk", flat=True))
        if running and not replace:
            raise Busy("This brief is already being written. Cancel that run to start "
                       "again, or wait for its drafts.")
        for job_id in running:
            with contextlib.suppress(WrongState):  # it ended meanwhile: nothing to cancel
                job_cancel(user=user, job_id=job_id)
        job = _new_job(brief=brief, user=user)
        brief.status = Brief.Status.QUEUED
        brief.save(update_fields=["status", "updated_at"])
        audit_record(actor=user, team=brief.project.team, verb="brief.regenerate", obj=brief,
                     after={"job": job.pk})
        transaction.on_commit(lambda: job_send(job.pk))
    return job
