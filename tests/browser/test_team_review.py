"""Team review in a real browser: the queue on a phone, one-click copy, confirmations,
presence, the bell and logging out."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import Role
from studio.services import presence
from studio.services.reviews import review_approve
from tests.conftest import World
from tests.factories import (
    BriefFactory,
    DraftFactory,
    GenerationJobFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def _long_queue(world: World) -> None:
    for i in range(6):
        job = GenerationJobFactory(brief=BriefFactory(
            project=world.project, kind="ad_copy",
            title=f"A very long brief title for the spring campaign number {i} " * 2))
        DraftFactory(job=job, variant=0, flag_codes=["banned_term", "near_identical_variant"],
                     text="Averyveryverylongwordwithoutanyspaces" * 8,
                     current_text="Averyveryverylongwordwithoutanyspaces" * 8)


def test_the_queue_fits_a_390_px_phone(new_page: Any, live_server: Any, world: World,
                                       shot: Any) -> None:
    _long_queue(world)
    page = new_page(world.editor)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("review_queue"))
    page.wait_for_selector(".queue-row")
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, "queue-390px")
    assert width <= 390, f"the queue is {width} px wide on a 390 px screen"
    # Still usable: a row opens its draft.
    page.click(".queue-row .row-link >> nth=0")
    page.wait_for_selector("#draft-text")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_approved_copy_copies_in_one_click(new_page: Any, live_server: Any,
                                           world: World) -> None:
    review_approve(user=world.editor, draft_id=world.draft.pk, version=world.draft.version,
                   text="Fresh beans, 新鲜咖啡豆, roasted today.")
    page = new_page(world.marketer)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=live_server.url)
    page.goto(live_server.url + reverse("brief_detail", args=[world.brief.pk]))
    page.click(f"#copy-{world.draft.pk}")
    page.wait_for_function(
        f"document.getElementById('copy-{world.draft.pk}').textContent.includes('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == \
        "Fresh beans, 新鲜咖啡豆, roasted today."


def test_promote_asks_first(new_page: Any, live_server: Any, world: World) -> None:
    from studio.models import ModelVersion

    ModelVersion.objects.filter(pk=world.version.pk).update(status="ready", load_check="ok")
    page = new_page(world.admin)
    page.goto(live_server.url + reverse("model_versions", args=[world.project.pk]))
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("text=Promote")
    page.wait_for_timeout(300)
    assert asked and asked[0].startswith(f"Promote v{world.version.number}?")
    world.version.refresh_from_db()
    assert world.version.status == "ready"  # cancelled: nothing changed


def test_presence_shows_who_else_has_the_draft_open(new_page: Any, live_server: Any,
                                                    world: World) -> None:
    ana = MembershipFactory(team=world.team, role=Role.EDITOR,
                            user=UserFactory(username="ana")).user
    presence._redis().delete(presence.KEY.format(world.draft.pk))
    first = new_page(ana)
    first.goto(live_server.url + reverse("draft_review", args=[world.draft.pk]))
    second = new_page(world.editor)
    second.goto(live_server.url + reverse("draft_review", args=[world.draft.pk]))
    second.wait_for_selector("#presence:has-text('ana is reviewing')")
    presence._redis().delete(presence.KEY.format(world.draft.pk))


def test_logging_out_says_so(new_page: Any, live_server: Any, world: World) -> None:
    page = new_page(world.marketer)
    page.goto(live_server.url + reverse("dashboard"))
    page.click("text=Log out")
    page.wait_for_selector("text=You are logged out.")
    assert "/login/" in page.url
