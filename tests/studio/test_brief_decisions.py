"""The brief page tells its writer what the editors decided about each variant, and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studio.models import Draft, Review
from studio.services.reviews import review_approve, review_reject, review_save_edit
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory

pytestmark = pytest.mark.django_db


def _brief_with_variants(world: World, n: int) -> tuple[Any, list[Draft]]:
    brief = BriefFactory(project=world.project, author=world.marketer, variants=n)
    job = GenerationJobFactory(brief=brief)
    return brief, [DraftFactory(job=job, variant=i) for i in range(n)]


def _decision(body: str, draft: Draft) -> str:
    match = re.search(rf'<section class="variant-decision[^"]*" id="decision-{draft.pk}".*?</section>',
                      body, re.S)
    return match.group(0) if match else ""


def test_the_writer_sees_each_variants_decision_reasons_and_comment(
    client: Client, world: World
) -> None:
    brief, (kept, edited, rejected, waiting) = _brief_with_variants(world, 4)
    review_approve(user=world.editor, draft_id=kept.pk, version=1, comment="Spot on.")
    review_approve(user=world.admin, draft_id=edited.pk, version=1,
                   text="A warmer note about the roast.", comment="Softened the close.")
    review_reject(user=world.editor, draft_id=rejected.pk, version=1,
                  reason_tags=["tone", "too_long"], comment="Too chatty for the channel.")
    review_save_edit(user=world.editor, draft_id=waiting.pk, version=1, text="Half done.")

    client.force_login(world.marketer)
    body = client.get(reverse("brief_detail", kwargs={"brief_id": brief.pk})).content.decode()

    first = _decision(body, kept)
    assert 'data-decision="approve"' in first and ">Approved<" in first
    assert "by editor-a" in first and "Spot on." in first

    second = _decision(body, edited)
    assert 'data-decision="approve_edited"' in second and "Approved with edits" in second
    assert "by admin-a" in second and "Softened the close." in second

    third = _decision(body, rejected)
    assert 'data-decision="reject"' in third and ">Rejected<" in third
    assert '<span class="tag bad" data-reason="tone">Tone</span>' in third
    assert '<span class="tag bad" data-reason="too_long">Too long</span>' in third
    assert "Too chatty for the channel." in third

    # A saved edit is not a decision: nothing to report yet.
    assert _decision(body, waiting) == ""


def test_it_shows_the_latest_decision(client: Client, world: World) -> None:
    brief, (draft,) = _brief_with_variants(world, 1)
    review_reject(user=world.editor, draft_id=draft.pk, version=1, reason_tags=["tone"],
                  comment="First thoughts.")
    # Reviews are append-only; should a draft ever carry two decisions, the newest shows.
    Review.objects.create(draft=draft, reviewer=world.admin, action="approve",
                          final_text=draft.text, comment="Fine after all.", draft_version=2)
    client.force_login(world.marketer)
    body = client.get(reverse("brief_detail", kwargs={"brief_id": brief.pk})).content.decode()
    block = _decision(body, draft)
    assert "Fine after all." in block and "First thoughts." not in block


def test_it_escapes_the_editors_comment(client: Client, world: World) -> None:
    brief, (draft,) = _brief_with_variants(world, 1)
    review_reject(user=world.editor, draft_id=draft.pk, version=1, reason_tags=["other"],
                  comment='<script>alert(1)</script><img src=x onerror=alert(2)> hx-get="/x"')
    client.force_login(world.marketer)
    body = client.get(reverse("brief_detail", kwargs={"brief_id": brief.pk})).content.decode()
    block = _decision(body, draft)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in block
    assert "<script>alert(1)" not in body and "<img src=x" not in body


def test_it_runs_a_constant_number_of_queries_on_the_brief_page(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    def decided_brief(n: int) -> Any:
        brief, drafts = _brief_with_variants(world, n)
        for i, draft in enumerate(drafts):
            if i % 2:
                review_reject(user=world.editor, draft_id=draft.pk, version=1,
                              reason_tags=["tone"], comment=f"No {i}")
            else:
                review_approve(user=world.editor, draft_id=draft.pk, version=1,
                               comment=f"Yes {i}")
        return brief

    client.force_login(world.marketer)
    small, large = decided_brief(2), decided_brief(8)
    # A second run of the large brief, decided too: both runs' variants are on the page.
    rerun = GenerationJobFactory(brief=large)
    for i in range(8):
        review_approve(user=world.editor, draft_id=DraftFactory(job=rerun, variant=i).pk,
                       version=1, comment="Earlier")
    client.get(reverse("brief_detail", kwargs={"brief_id": small.pk}))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("brief_detail", kwargs={"brief_id": small.pk}))
    with django_assert_max_num_queries(len(few)):
        body = client.get(reverse("brief_detail", kwargs={"brief_id": large.pk})).content
    assert body.count(b'class="variant-decision') == 16
