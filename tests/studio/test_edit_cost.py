"""Edit cost per model version: stored with each decision, summed in SQL (models page, API)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from studio.models import Draft
from studio.selectors.editcost import edit_cost_summary
from studio.services.reviews import review_approve, review_reject
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory, ModelVersionFactory

MODEL_TEXT = "Our fresh roast tastes of cherry and dark chocolate."


def _draft(world: World, *, version: Any = None, kind: str = "article",
           text: str = MODEL_TEXT) -> Draft:
    brief = BriefFactory(project=world.project, author=world.marketer, kind=kind)
    job = GenerationJobFactory(brief=brief, model_version=version)
    return DraftFactory(job=job, variant=0, text=text, current_text=text)


def _decide(world: World, draft: Draft, how: str, text: str | None = None) -> Draft:
    if how == "reject":
        review_reject(user=world.editor, draft_id=draft.pk, version=draft.version,
                      reason_tags=["tone"])
    else:
        review_approve(user=world.editor, draft_id=draft.pk, version=draft.version, text=text)
    return Draft.objects.get(pk=draft.pk)


def test_it_stores_the_edit_cost_with_each_decision(world: World) -> None:
    as_is = _decide(world, _draft(world), "approve")
    assert (as_is.decision, as_is.edit_distance, as_is.edit_cost) == ("approve", 0, 0.0)

    # One word swapped: distance 1 of ten units (nine words and the full stop).
    edited = _decide(world, _draft(world), "approve",
                     "Our fresh roast tastes of cherry and milk chocolate.")
    assert edited.decision == "approve_edited"
    assert (edited.edit_distance, edited.edit_units) == (1, 10)
    assert edited.edit_cost == pytest.approx(0.1)

    # Chinese is measured in characters, not split on spaces: 非常 → 很 is two edits of nine.
    chinese = _decide(world, _draft(world, text="这款咖啡非常好喝。"), "approve", "这款咖啡很好喝。")
    assert (chinese.edit_distance, chinese.edit_units) == (2, 9)

    rejected = _decide(world, _draft(world), "reject")
    assert rejected.decision == "reject"
    assert rejected.edit_cost is None and rejected.edit_distance is None


def test_it_sums_per_version_kind_and_week(world: World) -> None:
    v2 = ModelVersionFactory(project=world.project, number=902)
    # Base model: one as is, one rejected. v2: one as is, one edited (cost 0.1), an ad.
    _decide(world, _draft(world), "approve")
    _decide(world, _draft(world), "reject")
    _decide(world, _draft(world, version=v2), "approve")
    _decide(world, _draft(world, version=v2, kind="ad_copy"), "approve",
            "Our fresh roast tastes of cherry and milk chocolate.")

    summary = edit_cost_summary(world.admin, project=world.project)
    assert summary.overall.decided == 4
    base, second = summary.by_version
    assert base.base and base.version_label == "base model"
    assert (base.decided, base.approved_as_is, base.rejected) == (2, 1, 1)
    assert base.mean_edit_cost == 0.0 and base.mean_cost_with_rejections == 0.5
    assert base.acceptance == 0.5
    assert (second.model_version, second.version_number) == (v2.pk, 902)
    assert (second.approved_as_is, second.approved_with_edits) == (1, 1)
    assert second.mean_edit_cost == pytest.approx(0.05)
    assert second.mean_seconds_to_decision is not None and second.mean_seconds_to_decision >= 0
    assert {k.kind: k.decided for k in summary.by_kind} == {"ad_copy": 1, "article": 3}
    # This week, one row per version.
    assert [(w.version_label, w.decided) for w in summary.by_week] == [("base model", 2),
                                                                       ("v902", 2)]
    assert summary.by_week[0].week == timezone.localdate() - timedelta(
        days=timezone.localdate().weekday())


def test_a_draft_still_pending_or_of_another_team_does_not_count(world: World) -> None:
    _draft(world)  # pending
    other = BriefFactory(project=world.other_project, author=world.outsider)
    draft = DraftFactory(job=GenerationJobFactory(brief=other), variant=0)
    review_approve(user=world.outsider, draft_id=draft.pk, version=draft.version)
    assert edit_cost_summary(world.admin, project=world.project).overall.decided == 0
    # Team B's admin cannot read team A's figures at all.
    assert edit_cost_summary(world.outsider, project=world.project).overall.decided == 0


def _reviews(world: World, n: int) -> None:
    versions = [None, ModelVersionFactory(project=world.project, number=50 + n)]
    for i in range(n):
        draft = _draft(world, version=versions[i % 2], kind=("article", "email", "faq")[i % 3])
        how = ("approve", "edit", "reject")[i % 3]
        _decide(world, draft, "approve" if how == "edit" else how,
                MODEL_TEXT.replace("fresh", f"new{i}") if how == "edit" else None)
    # Spread decisions over past weeks, so the week grouping has several rows.
    for i, pk in enumerate(Draft.objects.filter(project=world.project).values_list("pk", flat=True)):
        Draft.objects.filter(pk=pk).update(decided_at=timezone.now() - timedelta(weeks=i % 5))


def _queries(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("view", ["selector", "page", "api"])
def test_its_query_count_does_not_grow_with_the_reviews(world: World, client: Any,
                                                        view: str) -> None:
    client.force_login(world.admin)

    def read() -> None:
        if view == "selector":
            edit_cost_summary(world.admin, project=world.project)
        elif view == "page":
            assert client.get(reverse("model_versions", args=[world.project.pk])).status_code == 200
        else:
            assert client.get(reverse("api:project-edit-cost",
                                      args=[world.project.pk])).status_code == 200

    _reviews(world, 6)
    small = _queries(read)
    _reviews(world, 30)
    assert Draft.objects.filter(project=world.project).exclude(decision="").count() == 36
    assert _queries(read) == small


def test_the_api_gives_the_numbers(world: World, client: Any) -> None:
    _decide(world, _draft(world), "approve")
    _decide(world, _draft(world), "approve", "Our fresh roast tastes of cherry and milk chocolate.")
    client.force_login(world.admin)
    body = client.get(reverse("api:project-edit-cost", args=[world.project.pk])).json()
    assert body["overall"]["decided"] == 2
    assert body["overall"]["acceptance"] == 0.5
    assert body["overall"]["mean_edit_cost"] == pytest.approx(0.05)
    assert body["by_version"][0]["base"] is True and body["by_version"][0]["model_version"] is None
    assert body["by_kind"][0]["kind"] == "article"
    assert body["by_week"][0]["week"]
    bad = client.get(reverse("api:project-edit-cost", args=[world.project.pk]), {"weeks": "0"})
    assert bad.status_code == 400 and "weeks" in bad.json()


def test_the_models_page_shows_the_chart_and_the_table(world: World, client: Any) -> None:
    _decide(world, _draft(world), "approve", "<script>alert(1)</script> fresh roast.")
    client.force_login(world.admin)
    page = client.get(reverse("model_versions", args=[world.project.pk])).content.decode()
    assert 'data-edit-cost-chart="edit-cost-data"' in page
    assert 'id="edit-cost-data" type="application/json"' in page
    assert "vendor/chart-4.6.1.umd.min.js" in page and "studio/editcost.js" in page
    assert 'id="edit-cost-versions"' in page and "base model" in page
    assert "<script>alert(1)" not in page


def test_the_backfill_stores_the_cost_of_drafts_decided_before(world: World) -> None:
    approved = _decide(world, _draft(world), "approve",
                       "Our fresh roast tastes of cherry and milk chocolate.")
    rejected = _decide(world, _draft(world), "reject")
    Draft.objects.update(decision="", edit_distance=None, edit_units=None, edit_cost=None)
    migration = importlib.import_module("studio.migrations.0014_edit_cost_and_preference_notes")
    migration.backfill_edit_cost(apps, None)
    approved.refresh_from_db()
    rejected.refresh_from_db()
    assert (approved.decision, approved.edit_distance, approved.edit_units) == (
        "approve_edited", 1, 10)
    assert rejected.decision == "reject" and rejected.edit_cost is None


def test_the_schema_documents_the_endpoint(client: Any, db: Any) -> None:
    schema = client.get("/api/schema/?format=json").json()
    get = schema["paths"]["/api/projects/{project_id}/edit-cost/"]["get"]
    assert {"200", "400", "404"} <= set(get["responses"])
    assert any(p["name"] == "weeks" for p in get["parameters"])
    row = schema["components"]["schemas"]["EditCostVersionRow"]["properties"]
    assert {"acceptance", "mean_edit_cost", "mean_seconds_to_decision", "base"} <= set(row)
