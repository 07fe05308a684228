"""In a real browser: a marketer picks A/B variants and reports what they did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from studio.models import AdResult
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


def test_a_marketer_picks_variants_and_reports_results(
    world: World, live_server: Any, new_page: Any, shot: Any
) -> None:
    brief = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                         title="Autumn blend")
    job = GenerationJobFactory(brief=brief)
    a, b = (DraftFactory(job=job, variant=v, status="approved") for v in range(2))
    page = new_page(world.marketer)
    page.goto(live_server.url + reverse("brief_detail", kwargs={"brief_id": brief.pk}))
    page.wait_for_selector("text=Pick the variants that run in your A/B test")
    # Picking a variant reloads the results section with it in the form.
    page.click(f"#ab-pick-{a.pk} button")
    page.wait_for_selector(f"#ab-row-{a.pk}")
    # The variant's own button says so (the swap is not swallowed by the section's hx-select).
    page.wait_for_selector(f"#ab-pick-{a.pk} button[aria-pressed=true]")
    assert "Running in A/B" in page.inner_text(f"#ab-pick-{a.pk}")
    page.click(f"#ab-pick-{b.pk} button")
    page.wait_for_selector(f"#ab-row-{b.pk}")
    end = timezone.localdate() - timedelta(days=1)
    for draft, clicks in ((a, "900"), (b, "600")):
        page.select_option("select[name=draft]", str(draft.pk))
        page.fill("input[name=period_start]", str(end - timedelta(days=6)))
        page.fill("input[name=period_end]", str(end))
        page.fill("input[name=impressions]", "20000")
        page.fill("input[name=clicks]", clicks)
        page.click("#report-results")
        page.wait_for_selector(f"#ab-row-{draft.pk} td:nth-child(3):has-text('{clicks}')")
        assert page.locator("text=Results saved.").count() == 1
    assert "Winner" in page.inner_text("#ab-verdict")
    assert "Variant 1" in page.inner_text("#ab-verdict")
    assert "4.50%" in page.inner_text(f"#ab-row-{a.pk}")
    shot(page, "brief-ab-results")
    # More clicks than impressions is refused next to the field; what was typed stays.
    page.fill("input[name=period_start]", str(end - timedelta(days=13)))
    page.fill("input[name=period_end]", str(end - timedelta(days=7)))
    page.fill("input[name=impressions]", "20000")
    page.fill("input[name=clicks]", "30000")
    page.click("#report-results")
    page.wait_for_selector("#id_clicks-error")
    assert page.input_value("input[name=clicks]") == "30000"
    assert AdResult.objects.count() == 2
