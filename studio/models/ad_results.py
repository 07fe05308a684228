from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.models.fields import UserCharField

from .drafts import Draft


class AdResult(models.Model):
    """What an A/B variant did when it ran, for one period, as its marketer reported it.

    One row per draft and period: reporting the same period again replaces the numbers.
    """

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="ad_results")
    # Denormalised from the draft, like Draft.project: team scoping without joins.
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    impressions = models.PositiveIntegerField()
    clicks = models.PositiveIntegerField()
    conversions = models.PositiveIntegerField(default=0)
    note = UserCharField(max_length=500, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["draft", "period_start", "period_end"],
                                    name="adresult_draft_period_unique"),
            models.CheckConstraint(condition=models.Q(clicks__lte=models.F("impressions")),
                                   name="adresult_clicks_lte_impressions"),
            models.CheckConstraint(
                condition=models.Q(conversions__lte=models.F("impressions")),
                name="adresult_conversions_lte_impressions"),
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")),
                                   name="adresult_period_ordered"),
        ]
        ordering = ["period_start", "id"]

    def __str__(self) -> str:
        return f"results of draft {self.draft_id}, {self.period_start}–{self.period_end}"
