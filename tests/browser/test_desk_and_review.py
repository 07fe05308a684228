"""The brief desk and the review workspace in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from studio.models import Brief, Draft, GenerationJob, Review
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def test_a_marketer_submits_an_ad_brief(
    world: World, live_server: Any, new_page: Any, shot: Any, broker_down: None
) -> None:
    page = new_page(world.marketer)
    page.goto(live_server.url + reverse("project_detail", kwargs={"project_id": world.project.pk}))
    page.click("#brief-desk-link")
    page.wait_for_url(re.compile(r"/briefs/$"))
    shot(page, "brief-desk")
    page.click("#new-brief")
    page.click("a.kind-card[data-kind=ad_copy]")
    page.wait_for_selector("input[name=product]")
    assert page.locator("textarea[name=source_text]").count() == 0
    assert "kind=ad_copy" in page.url  # pushed, so reload and back work
    # Submit without a title: the error shows next to the field, nothing is saved.
    page.fill("input[name=product]", "Autumn blend")
    page.select_option("select[name=channel]", "Instagram")
    page.fill("input[name=call_to_action]", "Order today")
    page.click("#submit-brief")
    page.wait_for_selector("#id_title-error")
    assert "required" in page.inner_text("#id_title-error")
    assert page.input_value("input[name=product]") == "Autumn blend"
    shot(page, "brief-new-errors")
    assert not Brief.objects.filter(title="Autumn launch").exists()
    page.fill("input[name=title]", "Autumn launch")
    page.fill("textarea[name=instructions]", "Cosy, short lines.")
    page.fill("input[name=variants]", "3")
    page.click("#submit-brief")
    page.wait_for_url(re.compile(r"/briefs/\d+/$"))
    page.wait_for_selector("text=Autumn launch")
    assert page.locator(".brief-status .tag").first.inner_text() == "Queued"
    shot(page, "brief-page-queued")
    brief = Brief.objects.get(title="Autumn launch")
    assert brief.status == "queued" and brief.kind == "ad_copy" and brief.variants == 3
    assert GenerationJob.objects.get(brief=brief).status == "queued"


def test_an_editor_works_the_queue_with_the_keyboard(
    world: World, live_server: Any, new_page: Any, shot: Any
) -> None:
    second = DraftFactory(job=world.job, variant=1, text="Second variant about our beans.")
    third = DraftFactory(job=world.job, variant=2, text="Third variant, plain and warm.")
    Draft.objects.filter(pk=second.pk).update(
        flags=[{"code": "banned_term", "message": "banned term 'cheap'", "span": [0, 6]}],
        flag_codes=["banned_term"])
    page = new_page(world.editor)
    page.goto(live_server.url + reverse("review_queue"))
    assert page.locator(".queue-row").count() == 3
    page.keyboard.press("j")
    assert "is-current" in (page.locator(".queue-row").first.get_attribute("class") or "")
    shot(page, "review-queue")
    page.keyboard.press("?")
    page.wait_for_selector("#keys-help[open]")
    shot(page, "review-keys-help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#keys-help:not([open])", state="attached")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/drafts/{world.draft.pk}/review/"))
    # Edit with the keyboard: e focuses the editor, Esc leaves it, a approves.
    page.keyboard.press("e")
    page.keyboard.type(" Freshly roasted.")
    page.wait_for_selector("#diff ins")
    assert "Freshly" in page.inner_text("#diff ins")
    shot(page, "review-draft-edited")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.wait_for_selector(f'#workspace[data-draft="{second.pk}"]')
    assert "Approved" in page.inner_text("#notice")
    assert page.url.endswith(reverse("draft_review", kwargs={"draft_id": second.pk}))
    review = Review.objects.get(draft=world.draft)
    assert review.action == "approve_edited"
    assert review.final_text == "A warm, plain draft about coffee. Freshly roasted."
    shot(page, "review-next-draft-flagged")
    # Reject the next one: r opens the reasons, 3 ticks "Tone", Enter rejects.
    page.keyboard.press("r")
    page.wait_for_selector("#reject-panel[open]")
    page.keyboard.press("3")
    assert page.is_checked("input[name=reason_tags][value=tone]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#workspace[data-draft="{third.pk}"]')
    second.refresh_from_db()
    assert second.status == "rejected"
    assert Review.objects.get(draft=second).reason_tags == ["tone"]
    # The last one goes from its queue row; then the queue is empty.
    page.goto(live_server.url + reverse("review_queue"))
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_selector(".queue-row.decided")
    page.goto(live_server.url + reverse("review_queue"))
    page.wait_for_selector("text=All caught up")
    shot(page, "review-queue-empty")
    world.brief.refresh_from_db()
    assert world.brief.status == "done"


def test_a_stale_save_shows_a_conflict_and_keeps_the_text(
    world: World, live_server: Any, new_page: Any, shot: Any
) -> None:
    DraftFactory(job=world.job, variant=1)
    url = live_server.url + reverse("draft_review", kwargs={"draft_id": world.draft.pk})
    mine = new_page(world.editor)
    mine.goto(url)
    # Opening the page claimed nothing; the page's POST as it loaded did.
    mine.wait_for_selector("p#claim")
    world.draft.refresh_from_db()
    assert world.draft.claimed_by == world.editor
    # The editor's claim runs out while they think; a colleague edits and moves on.
    Draft.objects.filter(pk=world.draft.pk).update(claimed_until=None, claimed_by=None)
    theirs = new_page(world.admin)
    theirs.goto(url)
    theirs.fill("#draft-text", "Their careful rewrite.")
    theirs.click("#save-btn")
    theirs.wait_for_selector("text=Edit saved")
    theirs.keyboard.press("j")
    theirs.wait_for_selector(f'#workspace:not([data-draft="{world.draft.pk}"])')
    mine.fill("#draft-text", "My own better rewrite.")
    mine.click("#save-btn")
    mine.wait_for_selector("#conflict")
    assert mine.inner_text("#conflict-theirs") == "Their careful rewrite."
    assert mine.inner_text("#conflict-yours") == "My own better rewrite."
    assert mine.input_value("#draft-text") == "My own better rewrite."
    shot(mine, "review-conflict")
    world.draft.refresh_from_db()
    assert world.draft.current_text == "Their careful rewrite."
    # Saving again on purpose keeps the editor's text over theirs.
    mine.click("#save-btn")
    mine.wait_for_selector("text=Edit saved")
    world.draft.refresh_from_db()
    assert world.draft.current_text == "My own better rewrite."
    assert world.draft.version == 3


def test_an_xss_draft_does_not_run_anywhere(
    world: World, live_server: Any, new_page: Any, shot: Any
) -> None:
    brief = BriefFactory(project=world.project, title=f"Evil {XSS}", instructions=XSS)
    draft = DraftFactory(job=GenerationJobFactory(brief=brief), variant=0, text=XSS,
                         flags=[{"code": "style_rule", "message": XSS, "span": [0, 8]}],
                         flag_codes=["style_rule"])
    page = new_page(world.editor)
    urls = [
        reverse("review_queue"),
        reverse("draft_review", kwargs={"draft_id": draft.pk}),
        reverse("brief_detail", kwargs={"brief_id": brief.pk}),
        reverse("brief_desk", kwargs={"project_id": world.project.pk}),
    ]
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__xss") == "undefined", url
        assert "<script>window.__xss=1</script>" in page.inner_text("main"), url
        if "review" in url and "drafts" in url:
            assert page.input_value("#draft-text") == XSS
            page.keyboard.press("e")
            page.keyboard.type(" <b>more</b>")
            page.wait_for_selector("#diff ins")
            assert page.evaluate("typeof window.__xss") == "undefined"
            assert "<b>more</b>" in page.inner_text("#diff")
            shot(page, "xss-draft")
    shot(page, "xss-brief-desk")


def test_a_throttled_submit_says_when_to_retry_and_keeps_the_form(
    world: World, live_server: Any, new_page: Any, shot: Any, settings: Any, broker_down: None
) -> None:
    from tests.studio.api.conftest import clear_generation_counters

    settings.API_GENERATION_RATE = 1
    clear_generation_counters(settings.API_THROTTLE_REDIS_URL)
    try:
        page = new_page(world.marketer)
        new = live_server.url + reverse("brief_new", kwargs={"project_id": world.project.pk})
        for title in ("First post", "Second <b>post</b>"):
            page.goto(new + "?kind=social_post")
            page.fill("input[name=title]", title)
            page.select_option("select[name=platform]", "LinkedIn")
            page.fill("textarea[name=instructions]", "Warm, two lines.")
            page.click("#submit-brief")
            if title == "First post":
                page.wait_for_url(re.compile(r"/briefs/\d+/$"))
        # The 429 answer is swapped in place: the limit, when to retry, the typed brief.
        page.wait_for_selector("text=try again in")
        assert re.search(r"/briefs/new/", page.url)
        assert page.input_value("input[name=title]") == "Second <b>post</b>"
        assert page.input_value("select[name=platform]") == "LinkedIn"
        assert page.input_value("textarea[name=instructions]") == "Warm, two lines."
        shot(page, "brief-new-throttled")
        assert list(Brief.objects.values_list("title", flat=True).filter(
            project=world.project, kind="social_post")) == ["First post"]
    finally:
        clear_generation_counters(settings.API_THROTTLE_REDIS_URL)
