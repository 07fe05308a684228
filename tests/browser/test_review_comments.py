"""In a real browser: an editor's approve comment reaches the brief's writer, as text."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import Review
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def test_an_approve_comment_reaches_the_marketer_as_text(
    world: World, live_server: Any, new_page: Any, shot: Any
) -> None:
    editor = new_page(world.editor)
    editor.goto(live_server.url + reverse("draft_review", kwargs={"draft_id": world.draft.pk}))
    # Typing in the comment box is typing, not shortcuts (a approves, r rejects, j moves on).
    editor.click("#approve-comment")
    editor.keyboard.type(f"A great angle, just right. {XSS}")
    assert editor.locator("#reject-panel[open]").count() == 0
    assert Review.objects.count() == 0
    editor.click("#approve-btn")
    editor.wait_for_selector("text=Queue clear")
    review = Review.objects.get(draft=world.draft)
    assert (review.action, review.comment) == ("approve", f"A great angle, just right. {XSS}")

    marketer = new_page(world.marketer)
    marketer.goto(live_server.url + reverse("brief_detail", kwargs={"brief_id": world.brief.pk}))
    decision = marketer.locator(f"#decision-{world.draft.pk}")
    assert "Approved" in decision.inner_text()
    assert f"A great angle, just right. {XSS}" in decision.locator(".decision-comment").inner_text()
    assert marketer.evaluate("typeof window.__xss") == "undefined"
    shot(marketer, "brief-decisions")
