"""The draft list: the review queue's filters, status, project, an ordering allowlist."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from studio.models import Draft
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory
from tests.studio.api.conftest import Api

URL = "/api/drafts/"


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()["results"]]


@pytest.fixture
def drafts(world: World) -> dict[str, Draft]:
    ad = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy")
    on_v = GenerationJobFactory(brief=ad, model_version=world.version)
    flagged = DraftFactory(job=on_v, variant=0, flag_codes=["banned_term"],
                           flags=[{"code": "banned_term", "message": "cheap"}])
    approved = DraftFactory(job=on_v, variant=1, status="approved")
    theirs = DraftFactory(job=GenerationJobFactory(
        brief=BriefFactory(project=world.other_project, author=world.outsider)), variant=0)
    return {"plain": world.draft, "flagged": flagged, "approved": approved, "theirs": theirs}


def test_it_filters_like_the_review_queue(api: Api, world: World, drafts: dict[str, Draft]) -> None:
    api.as_(world.editor)
    plain, flagged, approved = drafts["plain"].pk, drafts["flagged"].pk, drafts["approved"].pk
    assert _ids(api.get(URL)) == [plain, flagged, approved]
    assert _ids(api.get(URL, kind="ad_copy")) == [flagged, approved]
    assert _ids(api.get(URL, flag="banned_term")) == [flagged]
    assert _ids(api.get(URL, flag="any")) == [flagged]
    assert _ids(api.get(URL, flag="none")) == [plain, approved]
    assert _ids(api.get(URL, model=str(world.version.pk))) == [flagged, approved]
    assert _ids(api.get(URL, model="base")) == [plain]
    assert _ids(api.get(URL, status="approved")) == [approved]
    assert _ids(api.get(URL, project=str(world.project.pk), age="24h")) == [plain, flagged,
                                                                             approved]
    assert _ids(api.get(URL, ordering="-id")) == [approved, flagged, plain]


def test_it_shows_no_other_teams_drafts(api: Api, world: World, drafts: dict[str, Draft]) -> None:
    assert drafts["theirs"].pk not in _ids(api.as_(world.admin).get(URL))
    assert _ids(api.get(URL, project=str(world.other_project.pk))) == []
    assert _ids(api.as_(world.outsider).get(URL)) == [drafts["theirs"].pk]


@pytest.mark.parametrize("params", [{"ordering": "created_by__password"}, {"ordering": "text"},
                                    {"status": "nope"}, {"flag": "x"}, {"model": "1; drop"},
                                    {"project": "abc"}, {"page": "0"}])
def test_it_refuses_parameters_outside_the_allowlists(
    api: Api, world: World, params: dict[str, str]
) -> None:
    response = api.as_(world.editor).get(URL, **params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_it_lists_in_a_fixed_number_of_queries(
    api: Api, world: World, drafts: dict[str, Draft], django_assert_max_num_queries: Any
) -> None:
    for n in range(2, 8):
        DraftFactory(job=world.job, variant=n)
    api.as_(world.editor)
    api.get(URL)  # warm the session
    with django_assert_max_num_queries(8):
        assert len(_ids(api.get(URL))) == 9


def test_the_detail_carries_history(api: Api, world: World) -> None:
    url = reverse("api:draft-detail", kwargs={"draft_id": world.draft.pk})
    api.as_(world.editor).post(url + "edit/", {"text": "Edited."}, headers={"If-Match": '"v1"'})
    history = api.get(url).json()["history"]
    assert [(h["action"], h["reviewer"], h["draft_version"]) for h in history] == [
        ("edit", world.editor.username, 1)
    ]
