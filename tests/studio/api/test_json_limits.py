"""Every JSON body is read with a size and a depth limit: 400 or 413, never a 500."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser

from studio.api.parsers import PayloadTooLarge, StudioJSONParser
from studio.models import AuditEvent, Brief, Draft, Project, TrainingJob
from tests.conftest import World
from tests.studio.api.conftest import Api

NESTED_1500 = b"[" * 1500 + b"]" * 1500  # 3 KB: crashed json with a RecursionError


def _endpoints(w: World) -> list[tuple[str, str, Any]]:
    """(method, url, user) for endpoints that read a body, one per resource."""
    return [
        ("post", reverse("api:project-briefs", kwargs={"project_id": w.project.pk}), w.marketer),
        ("patch", reverse("api:project-detail", kwargs={"project_id": w.project.pk}), w.admin),
        ("post", reverse("api:draft-bulk-review"), w.editor),
        ("post", reverse("api:draft-claim", kwargs={"draft_id": w.draft.pk}), w.editor),
        ("post", reverse("api:draft-ad-results", kwargs={"draft_id": w.draft.pk}), w.marketer),
        ("post", reverse("api:project-training-jobs", kwargs={"project_id": w.project.pk}),
         w.admin),
        ("post", reverse("api:model-version-promote", kwargs={"version_id": w.version.pk}),
         w.admin),
    ]


def _state() -> tuple[Any, ...]:
    return (Brief.objects.count(), AuditEvent.objects.count(), TrainingJob.objects.count(),
            list(Draft.objects.values_list("claimed_by", "status", "version")),
            list(Project.objects.values_list("brand_voice", "updated_at")))


@pytest.mark.parametrize("body", [
    NESTED_1500,
    b'{"a": ' * 1500 + b"1" + b"}" * 1500,
    b'{"title": ' + b"[" * 40 + b"]" * 40 + b"}",  # past the limit, far from recursion
], ids=["arrays-1500", "objects-1500", "arrays-40"])
def test_it_refuses_deep_json_on_every_endpoint_with_a_400(
    api: Api, world: World, body: bytes
) -> None:
    before = _state()
    for method, url, user in _endpoints(world):
        response = api.as_(user).send(method, url, raw=body)
        assert response.status_code == 400, (url, response.status_code, response.content[:200])
        assert "more than 32 levels deep" in response.json()["detail"], url
    assert _state() == before


def test_it_accepts_json_at_the_depth_limit(api: Api, world: World, settings: Any) -> None:
    settings.API_JSON_MAX_DEPTH = 4
    url = reverse("api:draft-bulk-review")
    # {"items": [{"reason_tags": ["tone"]}]} is 4 levels: parsed, then refused for its fields.
    response = api.as_(world.editor).post(
        url, {"items": [{"draft": world.draft.pk, "action": "reject", "version": 1,
                         "reason_tags": ["tone"]}]})
    assert response.status_code == 200, response.json()
    deeper = api.post(url, {"items": [{"draft": world.draft.pk, "action": "reject",
                                        "version": 1, "reason_tags": [["tone"]]}]})
    assert deeper.status_code == 400
    assert "more than 4 levels deep" in deeper.json()["detail"]


def test_every_api_view_uses_the_limited_parser() -> None:
    def views(patterns: list[URLPattern | URLResolver]) -> list[Any]:
        found = []
        for p in patterns:
            if isinstance(p, URLResolver):
                found += views(p.url_patterns)
            elif hasattr(p.callback, "cls"):
                found.append(p.callback.cls)
        return found

    api_views = views(get_resolver().url_patterns)
    assert len(api_views) > 20
    # File uploads (training import, knowledge upload) take multipart only, under their
    # own size limit; nothing else reads a body but through the limited JSON parser.
    uploads = [v for v in api_views if list(v.parser_classes) == [MultiPartParser]]
    assert {v.__name__ for v in uploads} == {"TrainingImportView", "ProjectKnowledgeUploadView"}
    for view in api_views:
        if view not in uploads:
            assert list(view.parser_classes) == [StudioJSONParser], view


def test_the_parser_stops_reading_at_the_size_limit(settings: Any) -> None:
    # The view also refuses a large Content-Length; the parser holds even without one.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    class Stream(io.BytesIO):
        asked: list[int] = []

        def read(self, size: int | None = -1) -> bytes:
            self.asked.append(-1 if size is None else size)
            return super().read(size)

    stream = Stream(b'{"title": "' + b"x" * 5000 + b'"}')
    with pytest.raises(PayloadTooLarge, match="larger than 1,000 bytes"):
        StudioJSONParser().parse(stream, "application/json", {})
    assert Stream.asked == [1001]
    assert StudioJSONParser().parse(io.BytesIO(b'{"a": [1]}'), "application/json", {}) == {
        "a": [1]}
    with pytest.raises(ParseError, match="not valid utf-8"):
        StudioJSONParser().parse(io.BytesIO(b'{"a": "\xff"}'), "application/json", {})
    with pytest.raises(ParseError, match="JSON parse error"):
        StudioJSONParser().parse(io.BytesIO(b'{"a": NaN}'), "application/json", {})
