"""The OpenAPI schema, its docs page under our CSP, and a bounded schemathesis run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from studio.models import TrainingExample
from tests.conftest import World

CSP_HEADER = "Content-Security-Policy"


def test_it_serves_a_valid_schema(client: Client, db: Any) -> None:
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {"/api/projects/", "/api/drafts/{draft_id}/approve/",
            "/api/projects/{project_id}/briefs/", "/api/drafts/{draft_id}/claim/",
            "/api/drafts/{draft_id}/release/", "/api/drafts/bulk-review/"} <= paths
    bulk = schema["paths"]["/api/drafts/bulk-review/"]["post"]
    # The bulk semantics are documented where clients read them.
    assert "all or nothing" in bulk["description"] and "per item" in bulk["description"]
    assert {"200", "400", "403"} <= set(bulk["responses"])
    assert "409" in schema["paths"]["/api/drafts/{draft_id}/claim/"]["post"]["responses"]


def test_the_docs_page_works_under_the_csp(client: Client, db: Any) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "'unsafe-inline'" not in page[CSP_HEADER]
    # No inline script or style: every <script> has a src, there is no <style> element.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in scripts)
    # Swagger UI itself comes from our static files (drf-spectacular-sidecar), no CDN.
    assert all(s.startswith("/") for s in scripts)
    init = client.get(scripts[-1].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


@pytest.fixture
def wsgi_app() -> Any:
    """The real WSGI handler, keeping the test's database connection (and transaction)
    open across requests, as Django's test client does."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_server_errors_or_schema_violations(
    world: World, settings: Any, wsgi_app: Any, mode: str
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    settings.API_GENERATION_RATE = 10_000
    # Rows behind every list, so response schemas are checked on real data.
    for kind in ("sft", "preference"):
        TrainingExample.objects.create(
            project=world.project, kind=kind, content_kind="article",
            prompt=[{"role": "user", "content": "Write."}], completion="Text.",
            rejected_completion="Draft." if kind == "preference" else "",
        )
    from studio.services.accounts import api_token_create

    _, key = api_token_create(user=world.admin, name="schemathesis")
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    real_ids = {"project_id": world.project.pk, "brief_id": world.brief.pk,
                "draft_id": world.draft.pk, "job_id": world.training_job.pk,
                "version_id": world.version.pk,
                "example_id": TrainingExample.objects.filter(project=world.project).first().pk}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_headers_conformance, response_schema_conformance]
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        fixed = {k: v for k, v in real_ids.items() if "{" + k + "}" in operation.path}
        strategies = [operation.as_strategy(generation_mode=generation, path_parameters=fixed)]
        # Some cases on ids that are not the team's or do not exist. Not in negative mode:
        # a non-integer id like ".." makes a URL outside /api/ (the site's HTML 404).
        if fixed and generation is GenerationMode.POSITIVE:
            strategies.append(operation.as_strategy(generation_mode=generation))

        for strategy in strategies:
            @hsettings(max_examples=25, deadline=None, database=None, derandomize=True,
                       suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Any) -> None:
                response = case.call(headers={"Authorization": f"Token {key}"})
                case.validate_response(response, checks=checks)

            try:
                run()
            except Unsatisfiable:
                # Negative mode: an operation with nothing to make invalid (no body or
                # query, path ids fixed) has no negative case.
                assert generation is GenerationMode.NEGATIVE
    assert operations >= 26
