"""Search, order and page size of the review queue and the brief desk (page and API)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from studio.models import Brief, Draft
from studio.selectors.reviews import QueueFilters, review_queue
from studio.selectors.search import BRIEF_SEARCH_FIELDS, DRAFT_SEARCH_FIELDS, _matching
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory


def _draft(world: World, *, text: str = "A plain draft.", project: Any = None,
           **brief: Any) -> Draft:
    job = GenerationJobFactory(brief=BriefFactory(project=project or world.project,
                                                  author=world.marketer, **brief))
    return DraftFactory(job=job, variant=0, text=text, current_text=text)


def _ids(world: World, **params: str) -> list[int]:
    page = review_queue(user=world.editor, team=world.team,
                        filters=QueueFilters.from_query(params))
    return [d.pk for d in page.rows]


@pytest.fixture
def corpus(world: World) -> dict[str, Draft]:
    return {
        "title": _draft(world, title="Autumn espresso launch"),
        "instructions": _draft(world, title="Newsletter", instructions="Mention the grinder."),
        "text": _draft(world, title="Blog", text="Our baristas love the pour-over kettle."),
        "chinese": _draft(world, title="春季新品咖啡豆上市", text="这款咖啡豆带有柑橘的香气。"),
        "other_team": _draft(world, project=world.other_project, title="Espresso secrets"),
    }


def test_it_finds_drafts_by_brief_title_instructions_and_draft_text(
    world: World, corpus: dict[str, Draft]
) -> None:
    assert _ids(world, q="espresso") == [corpus["title"].pk]
    assert _ids(world, q="grinder") == [corpus["instructions"].pk]
    assert _ids(world, q="kettle") == [corpus["text"].pk]
    # Words are prefixes, in any case, and every word must be there.
    assert _ids(world, q="BARIST") == [corpus["text"].pk]
    assert _ids(world, q="autumn launch") == [corpus["title"].pk]
    assert _ids(world, q="autumn kettle") == []


def test_it_finds_chinese_text_without_spaces(world: World, corpus: dict[str, Draft]) -> None:
    # PostgreSQL's 'simple' parser keeps "春季新品咖啡豆上市" as one token: a word inside
    # it is found by substring, in the title and in the draft's text.
    assert _ids(world, q="咖啡") == [corpus["chinese"].pk]
    assert _ids(world, q="柑橘") == [corpus["chinese"].pk]
    assert _ids(world, q="新品咖啡") == [corpus["chinese"].pk]
    assert _ids(world, q="红茶") == []


@pytest.mark.parametrize("q", ["espresso & | ! ( ) :* '", "<->", "!!!", "'; drop table x; --",
                               "\\", "a:*b"])
def test_it_takes_query_syntax_as_plain_text(
    client: Client, world: World, corpus: dict[str, Draft], q: str
) -> None:
    client.force_login(world.editor)
    response = client.get(reverse("review_queue"), {"q": q})
    assert response.status_code == 200
    desk = client.get(reverse("brief_desk", args=[world.project.pk]), {"q": q})
    assert desk.status_code == 200


def test_it_never_finds_another_teams_drafts(world: World, corpus: dict[str, Draft]) -> None:
    assert corpus["other_team"].pk not in _ids(world, q="espresso")
    assert corpus["other_team"].pk not in _ids(world, q="secrets")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN indexes are PostgreSQL's")
def test_the_search_expressions_match_the_gin_indexes(world: World) -> None:
    # The expression queried must be the indexed one, or every search reads every row.
    for model, fields, index in ((Draft, DRAFT_SEARCH_FIELDS, "draft_text_search"),
                                 (Brief, BRIEF_SEARCH_FIELDS, "brief_text_search")):
        qs, match = _matching(model.objects.all(), "kettle", fields=fields)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = qs.filter(match).only("id").explain()
        assert index in plan, plan


def test_it_orders_the_queue_newest_or_oldest_and_pages_by_keyset(world: World) -> None:
    now = timezone.now()
    drafts = [_draft(world, title=f"Brief {i}") for i in range(5)]
    for age, draft in enumerate(drafts):
        Draft.objects.filter(pk=draft.pk).update(created_at=now - timedelta(hours=age + 1))
    Draft.objects.filter(pk=world.draft.pk).update(created_at=now - timedelta(days=3))
    newest = [d.pk for d in drafts] + [world.draft.pk]

    def walk(order: str, size: int) -> list[int]:
        seen: list[int] = []
        after = None
        while True:
            page = review_queue(user=world.editor, team=world.team, after=after, size=size,
                                filters=QueueFilters.from_query({"order": order}))
            seen += [d.pk for d in page.rows]
            if not page.has_next:
                return seen
            after = page.next_after

    assert walk("newest", 2) == newest
    assert walk("oldest", 4) == newest[::-1]


def test_it_shows_the_page_size_chosen(client: Client, world: World) -> None:
    for i in range(30):
        _draft(world, title=f"Many {i}")
    client.force_login(world.editor)
    body = client.get(reverse("review_queue"), {"size": "50"}).content.decode()
    assert body.count('class="queue-row') == 31
    body = client.get(reverse("review_queue")).content.decode()
    assert body.count('class="queue-row') == 25
    # A size outside the allowlist is ignored on the page, refused by the API.
    body = client.get(reverse("review_queue"), {"size": "100000"}).content.decode()
    assert body.count('class="queue-row') == 25
    api = APIClient()
    api.force_authenticate(world.editor)
    assert api.get("/api/drafts/", {"size": "100000"}).status_code == 400
    assert len(api.get("/api/drafts/", {"size": "25"}).json()["results"]) == 25


def test_the_api_searches_and_orders_with_the_same_filters(
    world: World, corpus: dict[str, Draft]
) -> None:
    api = APIClient()
    api.force_authenticate(world.editor)
    found = api.get("/api/drafts/", {"q": "kettle"}).json()["results"]
    assert [d["id"] for d in found] == [corpus["text"].pk]
    found = api.get("/api/drafts/", {"q": "咖啡"}).json()["results"]
    assert [d["id"] for d in found] == [corpus["chinese"].pk]
    rows = api.get("/api/drafts/", {"order": "newest"}).json()["results"]
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows),
                                                    reverse=True)
    assert api.get("/api/drafts/", {"order": "created_by__password"}).status_code == 400
    briefs = api.get(f"/api/projects/{world.project.pk}/briefs/", {"q": "kettle"}).json()
    assert [b["id"] for b in briefs["results"]] == [corpus["text"].job.brief_id]


def test_the_desk_searches_instructions_and_drafts_and_orders(
    client: Client, world: World, corpus: dict[str, Draft]
) -> None:
    client.force_login(world.marketer)
    url = reverse("brief_desk", args=[world.project.pk])
    body = client.get(url, {"q": "grinder"}).content.decode()
    assert "Newsletter" in body and "Autumn espresso launch" not in body
    body = client.get(url, {"q": "柑橘"}).content.decode()
    assert "春季新品咖啡豆上市" in body and "Blog" not in body
    body = client.get(url, {"order": "oldest"}).content.decode()
    assert body.index(world.brief.title) < body.index("Autumn espresso launch")
    body = client.get(url).content.decode()
    assert body.index("Autumn espresso launch") < body.index(world.brief.title)


@pytest.mark.parametrize("params", [{"q": "draft", "order": "newest"},
                                    {"q": "咖啡", "order": "deadline", "assigned": "none"}])
def test_the_queue_costs_the_same_queries_at_any_size(
    client: Client, world: World, django_assert_max_num_queries: Any, params: dict[str, str]
) -> None:
    client.force_login(world.editor)
    url = reverse("review_queue")

    def count() -> int:
        from django.db import connection as conn
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(conn) as ctx:
            assert client.get(url, {**params, "size": "100"}).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        _draft(world, title=f"咖啡 {i}", text="A plain draft.")
    few = count()
    for i in range(40):
        _draft(world, title=f"咖啡 more {i}", text="A plain draft.")
    with django_assert_max_num_queries(few):
        assert client.get(url, {**params, "size": "100"}).status_code == 200
