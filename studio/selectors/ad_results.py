"""A brief's A/B test: what each picked variant did, and whether one has won."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from django.db.models import Sum, Value
from django.db.models.functions import Coalesce

from studio.models import AdResult, Brief, Draft

CONFIDENT = 0.95  # two-sided confidence at which a leader is called the winner


@dataclass(frozen=True)
class VariantResults:
    draft: Draft
    impressions: int
    clicks: int
    conversions: int
    earlier_run: bool = False  # picked from a run before the brief's latest

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.clicks if self.clicks else None

    @property
    def ctr_pct(self) -> float | None:
        return None if self.ctr is None else 100 * self.ctr

    @property
    def conversion_pct(self) -> float | None:
        return None if self.conversion_rate is None else 100 * self.conversion_rate


@dataclass(frozen=True)
class AbSummary:
    variants: list[VariantResults]
    reports: list[AdResult]
    leader: VariantResults | None
    confidence: float | None  # that the leader's click-through rate beats the runner-up's
    runner_up: VariantResults | None = None

    @property
    def decided(self) -> bool:
        return self.confidence is not None and self.confidence >= CONFIDENT

    @property
    def confidence_pct(self) -> float | None:
        return None if self.confidence is None else 100 * self.confidence


def ctr_confidence(a: VariantResults, b: VariantResults) -> float | None:
    """Two-proportion z-test on click-through rates: the two-sided confidence that they
    differ (0–1), or None without impressions on both sides."""
    if not a.impressions or not b.impressions:
        return None
    pooled = (a.clicks + b.clicks) / (a.impressions + b.impressions)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.impressions + 1 / b.impressions))
    if se == 0:
        return 0.0
    z = abs((a.clicks / a.impressions) - (b.clicks / b.impressions)) / se
    return 2 * NormalDist().cdf(z) - 1


def ab_test_summary(brief: Brief) -> AbSummary:
    """The brief's picked variants (every run) with their summed results: three queries."""
    latest = brief.jobs.order_by("-created_at", "-pk").values_list("pk", flat=True).first()
    zero = Value(0)
    drafts = (
        Draft.objects.filter(job__brief=brief, ab_pick=True)
        .annotate(sum_impressions=Coalesce(Sum("ad_results__impressions"), zero),
                  sum_clicks=Coalesce(Sum("ad_results__clicks"), zero),
                  sum_conversions=Coalesce(Sum("ad_results__conversions"), zero))
        .order_by("job__created_at", "variant")
    )
    variants = [VariantResults(d, d.sum_impressions, d.sum_clicks, d.sum_conversions,
                               earlier_run=d.job_id != latest)
                for d in drafts]
    reports = list(AdResult.objects.filter(draft__job__brief=brief)
                   .select_related("draft", "reported_by").order_by("-period_end", "draft_id"))
    ranked = sorted((v for v in variants if v.ctr is not None),
                    key=lambda v: v.ctr or 0.0, reverse=True)
    leader = ranked[0] if ranked else None
    confidence = ctr_confidence(ranked[0], ranked[1]) if len(ranked) >= 2 else None
    return AbSummary(variants, reports, leader, confidence,
                     runner_up=ranked[1] if len(ranked) >= 2 else None)
