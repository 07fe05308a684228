"""The ad-results report: what one A/B variant did over one period."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from studio.validators import PlainCharField

COUNT_MAX = 2_000_000_000  # fits PositiveIntegerField on every database


class AdResultForm(forms.Form):
    period_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    impressions = forms.IntegerField(min_value=0, max_value=COUNT_MAX)
    clicks = forms.IntegerField(min_value=0, max_value=COUNT_MAX)
    conversions = forms.IntegerField(min_value=0, max_value=COUNT_MAX, required=False,
                                     initial=0)
    note = PlainCharField(max_length=500, required=False,
                          help_text="Channel, audience, spend… anything that explains it.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_start"), data.get("period_end")
        if start and end:
            if end < start:
                self.add_error("period_end", "The period ends before it starts.")
            elif end > timezone.localdate():
                self.add_error("period_end", "Report a period that is over (it ends today "
                                             "at the latest).")
        impressions, clicks = data.get("impressions"), data.get("clicks")
        conversions = data.get("conversions") or 0
        data["conversions"] = conversions
        if impressions is not None and clicks is not None and clicks > impressions:
            self.add_error("clicks", "There cannot be more clicks than impressions.")
        if impressions is not None and conversions > impressions:
            self.add_error("conversions", "There cannot be more conversions than impressions.")
        return data
