"""A project's content language: set on the settings page and the API, and followed by
the brief desk (lengths in characters for Chinese), the review diff and the checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studio.models import AuditEvent, Brief, Project
from studio.selectors.reviews import diff_stats, word_diff
from studio.services.generation import job_inputs
from tests.conftest import World
from tests.studio.api.conftest import Api, clear_generation_counters

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture(autouse=True)
def _fresh_throttle(settings: Any) -> Any:
    clear_generation_counters(settings.API_THROTTLE_REDIS_URL)
    yield
    clear_generation_counters(settings.API_THROTTLE_REDIS_URL)


def _settings_url(w: World) -> str:
    return reverse("project_settings", kwargs={"project_id": w.project.pk})


def _api_url(w: World) -> str:
    return reverse("api:project-detail", kwargs={"project_id": w.project.pk})


def _chinese(w: World) -> World:
    w.project.language = "zh-hans"
    w.project.banned_terms = "最便宜，保证、cheap"
    w.project.save()
    return w


def test_a_new_project_writes_english(world: World) -> None:
    assert Project.objects.get(pk=world.project.pk).language == "en"


def test_an_admin_sets_the_language_on_the_settings_page(client: Client, world: World) -> None:
    client.force_login(world.admin)
    page = client.get(_settings_url(world)).content.decode()
    assert 'name="language"' in page and "简体中文 (Simplified Chinese)" in page
    response = client.post(_settings_url(world), {"name": "Alpha blog", "language": "zh-hans"})
    assert response.status_code == 302
    world.project.refresh_from_db()
    assert world.project.language == "zh-hans"
    event = AuditEvent.objects.get(verb="project.settings")
    assert (event.before["language"], event.after["language"]) == ("en", "zh-hans")
    # A post without the field keeps the language.
    client.post(_settings_url(world), {"name": "Alpha blog", "brand_voice": "温暖。"})
    world.project.refresh_from_db()
    assert (world.project.language, world.project.brand_voice) == ("zh-hans", "温暖。")


def test_the_settings_page_refuses_an_unknown_language(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post(_settings_url(world), {"name": "Alpha blog", "language": "tlh"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    world.project.refresh_from_db()
    assert world.project.language == "en"


def test_the_api_shows_and_changes_the_language(api: Api, world: World) -> None:
    assert api.as_(world.editor).get(_api_url(world)).json()["language"] == "en"
    response = api.as_(world.admin).patch(_api_url(world), {"language": "zh-hans"})
    assert response.status_code == 200 and response.json()["language"] == "zh-hans"
    assert Project.objects.get(pk=world.project.pk).language == "zh-hans"


@pytest.mark.parametrize("body", [{"language": "tlh"}, {"language": ""}, {"language": 7},
                                  {"language": "x" * 17}])
def test_the_api_refuses_a_bad_language(api: Api, world: World, body: dict[str, Any]) -> None:
    response = api.as_(world.admin).patch(_api_url(world), body)
    assert response.status_code == 400 and "language" in response.json(), response.json()
    assert Project.objects.get(pk=world.project.pk).language == "en"


def test_a_lone_surrogate_in_the_settings_is_a_400_not_a_500(api: Api, world: World) -> None:
    response = api.as_(world.admin).patch(
        _api_url(world), raw=b'{"banned_terms": "\\u6700\\ud800", "language": "zh-hans"}')
    assert response.status_code == 400
    assert Project.objects.get(pk=world.project.pk).language == "en"


def test_chinese_banned_terms_are_split_on_chinese_commas_too(world: World) -> None:
    assert _chinese(world).project.banned_term_list == ["最便宜", "保证", "cheap"]


def test_the_brief_form_asks_for_characters_in_a_chinese_project(
    client: Client, world: World, settings: Any
) -> None:
    from generation.prompts import default_target, words_for_tokens

    settings.GENERATION_MAX_NEW_TOKENS = 512
    most = words_for_tokens(512, language="zh-hans")
    assert most > words_for_tokens(512)
    _chinese(world)
    client.force_login(world.marketer)
    url = reverse("brief_new", kwargs={"project_id": world.project.pk})
    page = client.get(url + "?kind=article").content.decode()
    # The hint gives the kind's usual length in characters; the cap is the field's max.
    usual = min(most, default_target("article", "zh-hans"))
    assert "Target length (characters)" in page
    assert f"about {usual:,} characters" in page and f'max="{most}"' in page
    data = {"kind": "article", "title": "秋季新品", "variants": 1, "keywords": "咖啡，早晨、秋天"}
    assert client.post(url, {**data, "target_words": most + 1}).status_code == 200
    assert client.post(url, {**data, "target_words": most}).status_code == 302
    brief = Brief.objects.get(title="秋季新品")
    assert brief.keywords == ["咖啡", "早晨", "秋天"] and brief.target_words == most
    detail = client.get(reverse("brief_detail", kwargs={"brief_id": brief.pk})).content.decode()
    assert f"{most} characters" in detail


def test_a_job_carries_the_project_language_to_the_worker(world: World) -> None:
    _chinese(world)
    inputs = job_inputs(job_id=world.job.pk)
    assert inputs["language"] == "zh-hans"
    assert inputs["voice"]["banned_terms"] == ["最便宜", "保证", "cheap"]


def test_bad_text_in_a_chinese_brief_is_kept_and_escaped(api: Api, world: World) -> None:
    # Traditional characters, emoji, right-to-left text and bidi controls are accepted as
    # written (drafts, not briefs, are flagged); the page shows them as text.
    _chinese(world)
    title = "這款<b>咖啡</b> 😀 עברית \u202eevil"
    response = api.as_(world.marketer).post(
        reverse("api:project-briefs", kwargs={"project_id": world.project.pk}),
        {"kind": "article", "title": title, "variants": 1})
    assert response.status_code == 201, response.json()
    brief = Brief.objects.get(pk=response.json()["id"])
    assert brief.title == title
    api.client.force_login(world.marketer)
    page = api.client.get(reverse("brief_detail", kwargs={"brief_id": brief.pk}))
    assert "這款&lt;b&gt;咖啡&lt;/b&gt; 😀 עברית" in page.content.decode()


def test_the_review_diff_counts_characters_in_chinese() -> None:
    before = "这款产品是最便宜的选择。"
    after = "这款产品是最实惠的选择。"
    assert diff_stats(before, after) == {"added": 2, "removed": 2}
    assert diff_stats("Fresh beans daily", "Fresh beans every day") == {"added": 2,
                                                                        "removed": 1}
    html = str(word_diff(before, after))
    assert "<del>便宜</del>" in html and "<ins>实惠</ins>" in html
