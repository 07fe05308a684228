"""The rough edges a first week of use found: each one held by a test."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from studio.models import ModelVersion, TrainingJob
from studio.templatetags.labels import duration, label
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory, TrainingJobFactory


def test_the_dashboard_has_new_brief_and_links_its_counts(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    body = client.get(reverse("dashboard")).content.decode()
    new = reverse("brief_new", args=[world.project.pk])
    assert f'<a href="{new}" role="button" id="dashboard-new-brief">New brief</a>' in body
    # "1 draft to review" is a link: to the queue for reviewers, the desk for marketers.
    assert re.search(r'<a href="[^"]*/briefs/\?status=in_review" class="drafts-to-review">'
                     r'<strong data-count="drafts-to-review">1</strong> draft to review</a>', body)
    client.force_login(world.editor)
    body = client.get(reverse("dashboard")).content.decode()
    queue = reverse("project_review_queue", args=[world.project.pk])
    assert f'<a href="{queue}" class="drafts-to-review">' in body


def test_required_fields_are_marked(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    body = client.get(reverse("brief_new", args=[world.project.pk]), {"kind": "ad_copy"})
    page = body.content.decode()
    assert "Fields marked" in page
    assert re.search(r'Title <span class="required-mark" title="required">\*</span>', page)
    assert re.search(r'Product <span class="required-mark"', page)
    assert not re.search(r'Deadline <span class="required-mark"', page)


def test_the_ad_form_hints_a_usual_length(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    page = client.get(reverse("brief_new", args=[world.project.pk]),
                      {"kind": "ad_copy"}).content.decode()
    assert "Empty: about 60 words, usual for this kind." in page
    assert "Up to" not in page


@pytest.mark.parametrize(("slug", "words"), [
    ("call_to_action", "Call to action"), ("off_brand", "Off-brand"), ("ad_copy", "Ad copy"),
    ("banned_term", "Banned term"), ("near_identical_variant", "Near-identical variants"),
    ("preference", "Preference pair"), ("in_review", "In review"),
    ("some_new_code", "Some new code"), ("Buy now!", "Buy now!"),
])
def test_every_slug_has_a_human_label(slug: str, words: str) -> None:
    assert label(slug) == words


def test_pages_show_labels_not_slugs(client: Client, world: World) -> None:
    brief = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                         extra={"call_to_action": "Order today", "channel": "Search"})
    DraftFactory(job=GenerationJobFactory(brief=brief), variant=0,
                 flags=[{"code": "banned_term", "message": "banned term 'cheap'"}],
                 flag_codes=["banned_term"])
    client.force_login(world.editor)
    for url in (reverse("brief_detail", args=[brief.pk]), reverse("review_queue")):
        page = client.get(url).content.decode()
        assert "Call_to_action" not in page and ">banned_term<" not in page
    assert "<dt>Call to action</dt>" in client.get(
        reverse("brief_detail", args=[brief.pk])).content.decode()


@pytest.mark.parametrize(("seconds", "words"), [
    (42, "under a minute"), (130, "about 2 min"), (3600, "1 h"), (4800, "1 h 20 min"),
    (90000, "1 day 1 h"), ("x", "—"),
])
def test_eta_is_in_words(seconds: object, words: str) -> None:
    assert duration(seconds) == words


def test_the_training_page_shows_eta_in_words(client: Client, world: World) -> None:
    job = TrainingJobFactory(project=world.project, status=TrainingJob.Status.RUNNING,
                             eta_seconds=4800)
    client.force_login(world.admin)
    page = client.get(reverse("training_job", args=[job.pk])).content.decode()
    assert "1 h 20 min" in page and "4800 s" not in page


def test_invite_defaults_to_the_least_role(client: Client, world: World) -> None:
    client.force_login(world.admin)
    page = client.get(reverse("team_members", args=[world.team.pk])).content.decode()
    invite = page[page.index("Invite a new member"):]
    options = re.findall(r'<option value="(\w+)"( selected)?>', invite)
    assert options[0] == ("marketer", " selected")
    assert [v for v, _ in options] == ["marketer", "editor", "admin"]


def test_promote_and_roll_back_ask_for_confirmation(client: Client, world: World) -> None:
    ModelVersion.objects.filter(pk=world.version.pk).update(status="ready", load_check="ok")
    client.force_login(world.admin)
    page = client.get(reverse("model_versions", args=[world.project.pk])).content.decode()
    promote = reverse("model_promote", args=[world.version.pk])
    assert re.search(rf'action="{promote}" class="inline-form" data-confirm="Promote v', page)


def test_bulk_reject_preselects_no_reason(client: Client, world: World) -> None:
    client.force_login(world.editor)
    page = client.get(reverse("review_queue")).content.decode()
    select = page[page.index('name="reason_tags"'):]
    select = select[:select.index("</select>")]
    assert '<option value="" selected>Reason to reject…</option>' in select
    assert select.count("selected") == 1
    # Rejecting without choosing a reason is refused with a message; nothing rejected.
    response = client.post(reverse("review_bulk"), {
        "drafts": [f"{world.draft.pk}:1"], "action": "reject", "reason_tags": [""],
        "next": reverse("review_queue")}, follow=True)
    assert "Choose at least one reason." in response.content.decode()
    world.draft.refresh_from_db()
    assert world.draft.status == "pending"


def test_the_api_docs_are_linked_from_every_page(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'<a href="{reverse("api-docs")}" id="api-docs-link">API docs</a>' in page


def test_logout_says_so(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    response = client.post(reverse("logout"), follow=True)
    assert "You are logged out." in response.content.decode()
    assert client.get(reverse("logout")).status_code == 405  # no logout on GET
