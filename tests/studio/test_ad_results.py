"""Marketers report what their A/B variants did; the brief page says who is winning."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studio.models import AdResult, AuditEvent, Draft
from studio.selectors.ad_results import VariantResults, ab_test_summary, ctr_confidence
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def ad(world: World) -> Any:
    """An ad copy brief with two variants running in the A/B test and one not picked."""
    brief = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                         title="Autumn blend")
    job = GenerationJobFactory(brief=brief)
    a, b, c = (DraftFactory(job=job, variant=v, status="approved", ab_pick=v < 2)
               for v in range(3))
    return brief, a, b, c


def _report(**over: Any) -> dict[str, Any]:
    end = timezone.localdate() - timedelta(days=1)
    return {"period_start": str(end - timedelta(days=6)), "period_end": str(end),
            "impressions": 1000, "clicks": 40, "conversions": 4, **over}


def test_a_marketer_reports_results_and_the_page_shows_them(
    client: Client, world: World, ad: Any
) -> None:
    brief, a, _, _ = ad
    client.force_login(world.marketer)
    url = reverse("brief_ab_report", args=[brief.pk])
    response = client.post(url, {**_report(note="<script>x()</script> Instagram"), "draft": a.pk},
                           headers=HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Results saved." in body and f'id="ab-row-{a.pk}"' in body
    assert "4.00%" in body  # 40 clicks / 1,000 impressions
    assert "&lt;script&gt;x()&lt;/script&gt; Instagram" in body and "<script>x()" not in body
    result = AdResult.objects.get(draft=a)
    assert (result.impressions, result.clicks, result.conversions, result.reported_by) == (
        1000, 40, 4, world.marketer)
    assert AuditEvent.objects.filter(verb="ad_result.report", actor=world.marketer).count() == 1


def test_reporting_the_same_period_again_replaces_it_and_is_audited(
    world: World, ad: Any
) -> None:
    from studio.services.ad_results import ad_result_report

    _, a, _, _ = ad
    first, created = ad_result_report(user=world.marketer, draft_id=a.pk, data=_report())
    again, created_again = ad_result_report(user=world.admin, draft_id=a.pk,
                                            data=_report(clicks=55))
    assert created and not created_again and first.pk == again.pk
    assert AdResult.objects.get().clicks == 55
    last = AuditEvent.objects.filter(verb="ad_result.report").order_by("pk").last()
    assert last is not None and last.before["clicks"] == 40 and last.after["clicks"] == 55


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"clicks": 1001}, "clicks", "more clicks than impressions"),
    ({"conversions": 1001}, "conversions", "more conversions than impressions"),
    ({"impressions": -1}, "impressions", "greater than or equal to 0"),
    ({"period_end": "2020-01-01"}, "period_end", "ends before it starts"),
    ({"period_end": str(timezone.localdate() + timedelta(days=2))}, "period_end",
     "period that is over"),
    ({"period_start": "not a date"}, "period_start", "Enter a valid date"),
])
def test_bad_numbers_are_refused_next_to_the_field_and_nothing_is_saved(
    client: Client, world: World, ad: Any, over: dict[str, Any], field: str, message: str
) -> None:
    brief, a, _, _ = ad
    client.force_login(world.marketer)
    response = client.post(reverse("brief_ab_report", args=[brief.pk]),
                           {**_report(**over), "draft": a.pk, "note": "kept as typed"},
                           headers=HX)
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body and f"id_{field}-error" in body
    assert "kept as typed" in body  # what was typed comes back
    assert not AdResult.objects.exists()


def test_only_picked_ad_variants_of_this_brief_take_results(
    client: Client, world: World, ad: Any
) -> None:
    brief, a, _, unpicked = ad
    client.force_login(world.marketer)
    url = reverse("brief_ab_report", args=[brief.pk])
    refused = client.post(url, {**_report(), "draft": unpicked.pk}, headers=HX)
    assert refused.status_code == 422 and "Pick this variant" in refused.content.decode()
    other = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.project,
                                                                     kind="ad_copy")),
                         ab_pick=True)
    wrong_brief = client.post(url, {**_report(), "draft": other.pk}, headers=HX)
    assert wrong_brief.status_code == 422
    assert "picked variants" in wrong_brief.content.decode()
    theirs = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(
        project=world.other_project, kind="ad_copy")), ab_pick=True)
    foreign = client.post(url, {**_report(), "draft": theirs.pk}, headers=HX)
    assert foreign.status_code == 422
    assert not AdResult.objects.exists()
    # An article has no A/B section at all.
    assert client.get(reverse("brief_ab_results", args=[world.brief.pk]),
                      headers=HX).status_code == 404


def test_the_summary_calls_a_winner_only_when_the_difference_is_significant(
    world: World, ad: Any
) -> None:
    from studio.services.ad_results import ad_result_report

    brief, a, b, _ = ad
    ad_result_report(user=world.marketer, draft_id=a.pk, data=_report(impressions=200,
                                                                       clicks=9))
    ad_result_report(user=world.marketer, draft_id=b.pk, data=_report(impressions=200,
                                                                       clicks=6))
    summary = ab_test_summary(brief)
    assert summary.leader is not None and summary.leader.draft == a
    assert summary.confidence is not None and not summary.decided
    # Another week with far more traffic at the same rates settles it.
    week = {"period_start": "2026-01-01", "period_end": "2026-01-07"}
    ad_result_report(user=world.marketer, draft_id=a.pk,
                     data={**_report(impressions=20000, clicks=900), **week})
    ad_result_report(user=world.marketer, draft_id=b.pk,
                     data={**_report(impressions=20000, clicks=600), **week})
    summary = ab_test_summary(brief)
    assert summary.leader is not None and summary.leader.draft == a and summary.decided
    assert [v.impressions for v in summary.variants] == [20200, 20200]
    assert len(summary.reports) == 4


def test_the_confidence_grows_with_traffic_and_is_symmetric() -> None:
    draft = Draft()
    small = ctr_confidence(VariantResults(draft, 100, 6, 0), VariantResults(draft, 100, 4, 0))
    large = ctr_confidence(VariantResults(draft, 10000, 600, 0),
                           VariantResults(draft, 10000, 400, 0))
    swapped = ctr_confidence(VariantResults(draft, 10000, 400, 0),
                             VariantResults(draft, 10000, 600, 0))
    same = ctr_confidence(VariantResults(draft, 5000, 50, 0), VariantResults(draft, 900, 9, 0))
    assert small is not None and large is not None
    assert 0 < small < 0.95 < large < 1 and swapped == large and same == 0
    assert ctr_confidence(VariantResults(draft, 0, 0, 0), VariantResults(draft, 10, 1, 0)) is None


def test_the_section_costs_the_same_queries_whatever_the_number_of_reports(
    client: Client, world: World, ad: Any, django_assert_max_num_queries: Any
) -> None:
    from studio.services.ad_results import ad_result_report

    brief, a, b, _ = ad
    for day in range(1, 15):
        for draft in (a, b):
            ad_result_report(user=world.marketer, draft_id=draft.pk, data={
                **_report(), "period_start": f"2026-02-{day:02d}",
                "period_end": f"2026-02-{day:02d}"})
    client.force_login(world.marketer)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("brief_ab_results", args=[brief.pk]), headers=HX)
    assert response.status_code == 200 and "28 reports" in response.content.decode()


def test_the_api_reports_and_lists_results(client: Client, world: World, ad: Any) -> None:
    _, a, _, unpicked = ad
    client.force_login(world.marketer)
    url = reverse("api:draft-ad-results", args=[a.pk])
    post = lambda u, body: client.post(u, json.dumps(body),  # noqa: E731
                                       content_type="application/json")
    created = post(url, _report())
    assert created.status_code == 201 and created.json()["clicks"] == 40
    replaced = post(url, _report(clicks=41))
    assert replaced.status_code == 200 and replaced.json()["id"] == created.json()["id"]
    assert [r["clicks"] for r in client.get(url).json()] == [41]
    unknown = post(url, {**_report(), "draft": 99, "reported_by": 1})
    assert unknown.status_code == 400 and {"draft", "reported_by"} <= set(unknown.json())
    too_many = post(url, _report(clicks=5000))
    assert too_many.status_code == 400 and "clicks" in too_many.json()
    not_picked = post(reverse("api:draft-ad-results", args=[unpicked.pk]), _report())
    assert not_picked.status_code == 400
    client.force_login(world.outsider)
    assert post(url, _report()).status_code == 404
    assert AdResult.objects.count() == 1


def test_a_decided_test_teaches_the_winner_over_the_runner_up(world: World, ad: Any) -> None:
    from studio.models import TrainingExample
    from studio.services.ad_results import ad_result_report
    from studio.services.training import dataset_examples

    brief, a, b, _ = ad
    Draft.objects.filter(pk=a.pk).update(current_text="Warm and short. Write to ann@example.com")
    Draft.objects.filter(pk=b.pk).update(current_text="Long and loud!")
    week = {"period_start": "2026-01-01", "period_end": "2026-01-07"}

    def report(draft: Any, clicks: int, impressions: int = 20000, **period: str) -> None:
        ad_result_report(user=world.marketer, draft_id=draft.pk,
                         data={**_report(impressions=impressions, clicks=clicks),
                               **(period or week)})

    report(a, 9, 200)
    report(b, 6, 200)
    assert not TrainingExample.objects.exists()  # leading, not decided: nothing learned
    report(a, 900)
    report(b, 600)
    pair = TrainingExample.objects.get(kind="preference")
    assert (pair.completion, pair.rejected_completion) == (
        "Warm and short. Write to [email]", "Long and loud!")
    assert pair.reason_tags == ["ab_test", f"brief:{brief.pk}"] and not pair.excluded
    assert pair.prompt and pair.content_kind == "ad_copy"
    report(b, 601)  # the same verdict: no second pair
    assert TrainingExample.objects.filter(kind="preference").count() == 1
    _, preferences = dataset_examples(world.project)
    assert [(p.chosen, p.rejected) for p in preferences] == [
        ("Warm and short. Write to [email]", "Long and loud!")]
    # A later, bigger period reverses the verdict: the old pair is excluded, not deleted.
    later = {"period_start": "2026-02-01", "period_end": "2026-02-28"}
    report(a, 1000, 200000, **later)
    report(b, 4000, 200000, **later)
    pair.refresh_from_db()
    assert pair.excluded
    flipped = TrainingExample.objects.get(kind="preference", excluded=False)
    assert flipped.completion == "Long and loud!"
    assert AuditEvent.objects.filter(verb="example.exclude").count() == 1


def test_editors_neither_pick_nor_report_so_they_make_no_training_pairs(
    client: Client, world: World, ad: Any
) -> None:
    from django.core.exceptions import PermissionDenied

    from studio.models import TrainingExample
    from studio.services.ad_results import ad_result_report

    brief, a, b, c = ad
    client.force_login(world.editor)
    # A result that would decide the test at once (40% vs 1% CTR).
    page = client.post(reverse("brief_ab_report", args=[brief.pk]),
                       {**_report(clicks=400), "draft": a.pk}, headers=HX)
    api = client.post(f"/api/drafts/{b.pk}/ad-results/", json.dumps(_report(clicks=10)),
                      content_type="application/json")
    pick = client.post(reverse("draft_ab_pick", args=[c.pk]), {"picked": "1"})
    assert (page.status_code, api.status_code, pick.status_code) == (403, 403, 403)
    with pytest.raises(PermissionDenied):
        ad_result_report(user=world.editor, draft_id=a.pk, data=_report())
    assert not AdResult.objects.exists() and not TrainingExample.objects.exists()
    assert not Draft.objects.get(pk=c.pk).ab_pick
    section = client.get(reverse("brief_ab_results", args=[brief.pk]), headers=HX)
    assert section.status_code == 200 and 'class="ab-report"' not in section.content.decode()

    # The same reports from a marketer decide the test and teach the winner.
    ad_result_report(user=world.marketer, draft_id=a.pk, data=_report(clicks=400))
    ad_result_report(user=world.marketer, draft_id=b.pk, data=_report(clicks=10))
    assert TrainingExample.objects.filter(kind="preference").count() == 1
