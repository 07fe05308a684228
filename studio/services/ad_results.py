"""Ad results: marketers report what their A/B variants did when they ran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from studio.forms.ad_results import AdResultForm
from studio.models import AdResult, ContentKind
from studio.permissions import Need, draft_for_user
from studio.services.audit import audit_record

FIELDS = ("impressions", "clicks", "conversions", "note")


def ad_result_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a report (a form post or an API body); raises ValidationError per field."""
    form = AdResultForm(data=data)
    if not form.is_valid():
        raise ValidationError({
            field: [e["message"] for e in errors]
            for field, errors in form.errors.get_json_data().items()
        })
    return form.cleaned_data


def ad_result_report(*, user: Any, draft_id: object, data: Mapping[str, Any]) -> tuple[AdResult, bool]:
    """Record the results of one A/B variant for one period (marketers and admins).

    Only ad copy variants picked for the A/B test ran, so only they take results.
    Reporting a period again replaces its numbers (audited with the old ones). Returns
    the row and whether it is new.
    """
    draft = draft_for_user(user, draft_id, need=Need.SUBMIT)
    brief = draft.job.brief
    if brief.kind != ContentKind.AD_COPY:
        raise ValidationError("Results are reported for ad copy only.")
    if not draft.ab_pick:
        raise ValidationError("Pick this variant for the A/B test before reporting its results.")
    clean = ad_result_clean(data)
    with transaction.atomic():
        result, created = AdResult.objects.select_for_update().get_or_create(
            draft=draft, period_start=clean["period_start"], period_end=clean["period_end"],
            defaults={"project_id": draft.project_id, "reported_by": user,
                      **{f: clean[f] for f in FIELDS}},
        )
        before = {} if created else {f: getattr(result, f) for f in FIELDS}
        if not created:
            for f in FIELDS:
                setattr(result, f, clean[f])
            result.reported_by = user
            result.save(update_fields=[*FIELDS, "reported_by", "updated_at"])
        audit_record(
            actor=user, team=draft.project.team, verb="ad_result.report", obj=result,
            before=before,
            after={"draft": draft.pk, "period": f"{result.period_start}/{result.period_end}",
                   **{f: clean[f] for f in FIELDS}},
        )
    return result, created
