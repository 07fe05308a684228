"""Ad results: marketers report what their A/B variants did when they ran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from generation.training import scrub_personal_data
from studio.forms import raise_for_form
from studio.forms.ad_results import AdResultForm
from studio.models import AdResult, Brief, TrainingExample
from studio.permissions import Need, draft_for_user
from studio.selectors.ad_results import ab_test_summary
from studio.services.audit import audit_record
from studio.services.errors import Refused
from studio.services.reviews import draft_prompt_messages

FIELDS = ("impressions", "clicks", "conversions", "note")
AB_TAG = "ab_test"


def ad_result_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a report (a form post or an API body); raises ValidationError per field."""
    form = AdResultForm(data=data)
    raise_for_form(form)
    return form.cleaned_data


def ad_result_report(*, user: Any, draft_id: object, data: Mapping[str, Any]) -> tuple[AdResult, bool]:
    """Record the results of one A/B variant for one period (marketers and admins).

    Only ad copy variants picked for the A/B test ran, so only they take results.
    Reporting a period again replaces its numbers (audited with the old ones). Returns
    the row and whether it is new.
    """
    draft = draft_for_user(user, draft_id, need=Need.AB_TEST)
    brief = draft.job.brief
    if not brief.takes_ad_results:
        raise Refused("Results are reported for ad copy only.")
    if not draft.ab_pick:
        raise Refused("Pick this variant for the A/B test before reporting its results.")
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
        ab_preference_sync(user=user, brief=brief)
    return result, created


def ab_preference_sync(*, user: Any, brief: Brief) -> TrainingExample | None:
    """The A/B test teaches the house style once it has a winner.

    When the leader beats the runner-up at 95% confidence and both were written for the
    same prompt (one run), the winner's text over the runner-up's becomes a preference
    pair, like an editor's choice. A later report that changes the verdict excludes the
    old pair (audited) and adds the new one; snapshots already taken keep what they
    froze. Returns the brief's current A/B pair, if any.
    """
    summary = ab_test_summary(brief)
    tags = [AB_TAG, f"brief:{brief.pk}"]
    winner, loser = summary.leader, summary.runner_up
    pair: tuple[str, str] | None = None
    if summary.decided and winner and loser and winner.draft.job_id == loser.draft.job_id:
        pair = (scrub_personal_data(winner.draft.current_text),
                scrub_personal_data(loser.draft.current_text))
    current: TrainingExample | None = None
    for example in TrainingExample.objects.select_for_update().filter(
        project_id=brief.project_id, kind=TrainingExample.Kind.PREFERENCE,
        reason_tags=tags, excluded=False,
    ):
        if pair == (example.completion, example.rejected_completion) and current is None:
            current = example
            continue
        example.excluded = True
        example.save(update_fields=["excluded"])
        audit_record(actor=user, team=brief.project.team, verb="example.exclude", obj=example,
                     before={"excluded": False},
                     after={"excluded": True, "why": "the A/B verdict changed"})
    if pair is not None and current is None and winner is not None:
        current = TrainingExample.objects.create(
            project_id=brief.project_id, kind=TrainingExample.Kind.PREFERENCE,
            content_kind=brief.kind, prompt=draft_prompt_messages(winner.draft),
            completion=pair[0], rejected_completion=pair[1], reason_tags=tags,
        )
        audit_record(actor=user, team=brief.project.team, verb="example.ab_test", obj=current,
                     after={"winner": winner.draft.pk,
                            "loser": loser.draft.pk if loser else None,
                            "confidence": round(summary.confidence or 0.0, 4)})
    return current
