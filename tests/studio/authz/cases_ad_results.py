"""A/B results of an ad copy brief (section, report, API) in the authorization matrix."""

from __future__ import annotations

from typing import Any

from studio.models import Brief, Draft
from tests.studio.authz.case import ALL, Case

# README: marketers pick the variants that run and report their results (and admins,
# who may do everything); editors review drafts, they do not run A/B tests.
AB_TESTERS = ("admin", "marketer")


def _ad(w: Any) -> None:
    """World's brief as an ad copy brief whose draft runs in the A/B test."""
    Brief.objects.filter(pk=w.brief.pk).update(kind="ad_copy")
    Draft.objects.filter(pk=w.draft.pk).update(ab_pick=True)


def _brief(w: Any) -> dict[str, Any]:
    _ad(w)
    return {"brief_id": w.brief.pk}


def _draft(w: Any) -> dict[str, Any]:
    _ad(w)
    return {"draft_id": w.draft.pk}


REPORT = {"period_start": "2026-01-01", "period_end": "2026-01-07", "impressions": 1000,
          "clicks": 40, "conversions": 3}

CASES: list[Case] = [
    Case("brief_ab_results", _brief, ALL, headers={"HX-Request": "true"}),
    Case("brief_ab_report", _brief, AB_TESTERS, method="post", headers={"HX-Request": "true"},
         data=lambda w: {**REPORT, "draft": w.draft.pk}),
    Case("api:draft-ad-results", _draft, ALL),
    Case("api:draft-ad-results", _draft, AB_TESTERS, method="post", data=lambda w: REPORT),
]
