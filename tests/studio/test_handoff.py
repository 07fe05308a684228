"""Hand-off of approved copy: exports per brief and project, safe CSV, one-click copy."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from studio.models import Draft
from studio.selectors.handoff import csv_safe
from studio.services.reviews import review_approve, review_reject
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory


@pytest.fixture
def approved(world: World) -> dict[str, Any]:
    brief = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                         title="Spring ads", extra={"channel": "search"}, variants=3)
    job = GenerationJobFactory(brief=brief, model_version=world.version)
    texts = ["=HYPERLINK(\"http://evil\",\"x\")", "Fresh beans, 新鲜咖啡豆.", "Rejected one"]
    drafts = [DraftFactory(job=job, variant=i, text=t, current_text=t)
              for i, t in enumerate(texts)]
    review_approve(user=world.editor, draft_id=drafts[0].pk, version=1)
    review_approve(user=world.admin, draft_id=drafts[1].pk, version=1,
                   text="Fresh beans, roasted today. 新鲜咖啡豆。")
    review_reject(user=world.editor, draft_id=drafts[2].pk, version=1, reason_tags=["off_brand"])
    return {"brief": brief, "drafts": drafts}


def test_the_brief_exports_approved_copy_as_csv_safe_from_formulas(
    client: Client, world: World, approved: dict[str, Any]
) -> None:
    client.force_login(world.marketer)
    response = client.get(reverse("brief_export", args=[approved["brief"].pk, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["variant"] for r in rows] == ["1", "2"]  # the rejected one is not copy
    assert rows[0]["text"].startswith("'=HYPERLINK")  # never a formula in a spreadsheet
    assert rows[0]["approved_by"] == "editor-a" and rows[1]["approved_by"] == "admin-a"
    assert rows[1]["text"] == "Fresh beans, roasted today. 新鲜咖啡豆。"
    assert rows[1]["edited"] == "True" and rows[0]["channel"] == "search"
    assert rows[0]["model"].startswith(f"v{world.version.number} on ")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_run_are_prefixed(value: str) -> None:
    assert csv_safe(value) == "'" + value
    assert csv_safe("plain") == "plain"


def test_the_project_exports_markdown_and_json(
    client: Client, world: World, approved: dict[str, Any]
) -> None:
    client.force_login(world.marketer)
    md = client.get(reverse("project_export", args=[world.project.pk, "md"])).content.decode()
    assert "## Spring ads" in md and "approved by admin-a, edited" in md
    data = json.loads(client.get(reverse("project_export", args=[world.project.pk, "json"]))
                      .content)
    assert {i["draft_id"] for i in data["items"]} == {d.pk for d in approved["drafts"][:2]}
    assert client.get(reverse("project_export", args=[world.project.pk, "exe"])).status_code == 404


def test_exports_are_404_to_outsiders_and_the_api_matches(
    client: Client, world: World, approved: dict[str, Any]
) -> None:
    client.force_login(world.outsider)
    assert client.get(reverse("brief_export", args=[approved["brief"].pk, "csv"])).status_code == 404
    assert client.get(reverse("project_export", args=[world.project.pk, "json"])).status_code == 404
    api = APIClient()
    api.force_authenticate(world.marketer)
    rows = api.get(f"/api/briefs/{approved['brief'].pk}/approved-copy/").json()
    assert [r["approved_by"] for r in rows] == ["editor-a", "admin-a"]
    text = api.get(f"/api/projects/{world.project.pk}/approved-copy/", {"as": "csv"})
    assert text.status_code == 200 and "'=HYPERLINK" in text.content.decode()
    assert api.get(f"/api/projects/{world.project.pk}/approved-copy/",
                   {"as": "xls"}).status_code == 400
    api.force_authenticate(world.outsider)
    assert api.get(f"/api/briefs/{approved['brief'].pk}/approved-copy/").status_code == 404


def test_the_export_costs_the_same_queries_at_any_size(
    client: Client, world: World, approved: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.marketer)
    url = reverse("project_export", args=[world.project.pk, "csv"])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(20):
        job = GenerationJobFactory(brief=BriefFactory(project=world.project))
        draft = DraftFactory(job=job, variant=0, text=f"Copy {i}", current_text=f"Copy {i}")
        review_approve(user=world.editor, draft_id=draft.pk, version=1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(url).content.decode()
    assert body.count("\n") == 2 + 20 + 1


def test_the_brief_page_offers_copy_on_approved_variants_only(
    client: Client, world: World, approved: dict[str, Any]
) -> None:
    client.force_login(world.marketer)
    body = client.get(reverse("brief_detail", args=[approved["brief"].pk])).content.decode()
    first, second, rejected = approved["drafts"]
    assert f'data-copy="text-{first.pk}"' in body and f'id="text-{first.pk}"' in body
    assert f'data-copy="text-{rejected.pk}"' not in body
    assert "<script>" not in body.split("<body")[1]  # CSP: no inline script
    assert Draft.objects.filter(status="approved").count() == 2
