from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from redis import Redis

from studio.services.throttling import THROTTLE_KEY_PREFIX


class Api:
    """A JSON client logged in as one user (session auth, CSRF not enforced)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def as_(self, user: Any) -> Api:
        self.client.force_login(user)
        return self

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params)

    def send(self, method: str, url: str, body: Any = None, *, raw: bytes | str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return getattr(self.client, method)(url, data, content_type="application/json",
                                            headers=headers or {})

    def post(self, url: str, body: Any = None, **kw: Any) -> Any:
        return self.send("post", url, body, **kw)

    def patch(self, url: str, body: Any = None, **kw: Any) -> Any:
        return self.send("patch", url, body, **kw)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def clear_generation_counters(url: str) -> None:
    """Empty every team's generation window (team ids come back in a fresh test database)."""
    redis = Redis.from_url(url)
    keys = list(redis.scan_iter(match=f"{THROTTLE_KEY_PREFIX}*"))
    if keys:
        redis.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_throttle(settings: Any) -> Any:
    """Each test starts with empty generation windows."""
    url = settings.API_THROTTLE_REDIS_URL  # a test may point the setting at a dead Redis
    clear_generation_counters(url)
    yield
    clear_generation_counters(url)


@pytest.fixture(autouse=True)
def _data_dirs(settings: Any, tmp_path: Any) -> None:
    settings.DATASET_DIR = tmp_path / "datasets"
    settings.ADAPTER_DIR = tmp_path / "adapters"
