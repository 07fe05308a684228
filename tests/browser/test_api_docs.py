"""The API docs page (Swagger UI from drf-spectacular-sidecar) in a real Chromium under
the site's CSP: the operations render, and no script or style is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


def test_the_api_docs_render_under_the_csp(
    new_page: Any, live_server: Any, world: World, shot: Any
) -> None:
    page = new_page(world.admin)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 20
    assert "Content Studio API" in page.locator(".info .title").inner_text()
    shot(page, "api-docs")
