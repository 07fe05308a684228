"""A real Chromium (Debian's, through Playwright's sync API) against pytest-django's live_server.

Playwright's sync API runs an event loop in this thread, which Django's async-safety check
would take for async code calling the ORM; the tests do not, so the check is switched off.
Screenshots of the main pages go to $STUDIO_TEST_ARTIFACTS (default test-artifacts/).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from studio.celery import app as celery_app

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("STUDIO_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """new_page(user) → a page of a fresh browser context logged in as ``user``.

    Console errors and CSP violations fail the test: the pages must run clean.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def make(user: Any) -> Any:
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": live_server.url,
        }])
        context.set_default_timeout(6000)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        # Failed loads are judged by their response below (the site has no favicon, and
        # 409/422 are answers the pages show); anything else logged as an error counts.
        page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and "Failed to load resource" not in msg.text
                else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if (r.status >= 500 or r.status in (400, 403, 404))
                and not r.url.endswith("/favicon.ico") else None)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture
def shot() -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def broker_down() -> Iterator[None]:
    """Publish to a port where no Redis listens: the brief must still be saved as queued."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = celery_app.conf.broker_url

    def point(url: str) -> None:
        celery_app.conf.broker_url = url
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
            celery_app._pool = None
        celery_app.amqp._producer_pool = None

    point(f"redis://127.0.0.1:{port}/0")
    yield
    point(before)
