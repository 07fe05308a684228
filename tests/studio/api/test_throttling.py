"""The per-team generation limit: a moving window in real Redis (the tests' own database,
CELERY_BROKER_URL), exact at the rate, across window boundaries and under threads."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import pytest
from django.urls import reverse

from studio.models import Brief, GenerationJob
from studio.services.throttling import (
    GenerationThrottled,
    generation_throttle,
    sliding_window_take,
    throttle_key,
)
from tests.conftest import World
from tests.studio.api.conftest import Api

AD = {"kind": "ad_copy", "title": "Autumn blend", "variants": 1,
      "extra": {"product": "Autumn blend", "channel": "Instagram",
                "call_to_action": "Order today"}}
# Keys under the throttle prefix (the autouse fixture empties them), far from real team ids.
TEAM = 9_000_000_001


def _take(settings: Any, *, rate: int, window: int, team: int = TEAM) -> bool:
    return sliding_window_take(url=settings.API_THROTTLE_REDIS_URL, key=throttle_key(team),
                               rate=rate, window_seconds=window).admitted


def _sleep_until_fraction(fraction: float) -> None:
    """Sleep until the clock reads ``fraction`` of the way through a whole second."""
    wait = (fraction - time.time() % 1) % 1
    time.sleep(wait if wait > 0.05 else wait + 1)


def test_it_admits_exactly_the_rate_then_refuses(settings: Any) -> None:
    assert [_take(settings, rate=5, window=60) for _ in range(7)] == [True] * 5 + [False] * 2
    # Other teams have their own window.
    assert _take(settings, rate=5, window=60, team=TEAM + 1)


def test_a_burst_across_a_window_boundary_gets_the_rate_not_twice(settings: Any) -> None:
    # One-second windows: fixed windows aligned on whole seconds let 5 through at .85
    # and 5 more at .05 of the next second. A sliding window lets the second burst wait
    # for the first to be a whole window old.
    _sleep_until_fraction(0.85)
    first = [_take(settings, rate=5, window=1) for _ in range(5)]
    _sleep_until_fraction(0.05)
    second = [_take(settings, rate=5, window=1) for _ in range(5)]
    assert first == [True] * 5
    assert second == [False] * 5
    _sleep_until_fraction(0.95)  # the first burst is more than a window old
    assert [_take(settings, rate=5, window=1) for _ in range(6)] == [True] * 5 + [False]


def test_a_refused_request_does_not_push_the_wait_further(settings: Any) -> None:
    url, key = settings.API_THROTTLE_REDIS_URL, throttle_key(TEAM)
    assert sliding_window_take(url=url, key=key, rate=1, window_seconds=2).admitted
    refused = sliding_window_take(url=url, key=key, rate=1, window_seconds=2)
    assert not refused.admitted and 1.8 < refused.retry_after <= 2
    for _ in range(5):
        assert not sliding_window_take(url=url, key=key, rate=1, window_seconds=2).admitted
    time.sleep(refused.retry_after + 0.05)
    assert sliding_window_take(url=url, key=key, rate=1, window_seconds=2).admitted


def test_threads_racing_for_the_last_slots_never_get_more_than_the_rate(settings: Any) -> None:
    threads, attempts, rate = 16, 6, 37
    start = threading.Barrier(threads)
    admitted: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        start.wait()
        mine = [_take(settings, rate=rate, window=60) for _ in range(attempts)]
        with lock:
            admitted.extend(mine)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(admitted) == threads * attempts
    assert sum(admitted) == rate
    assert not _take(settings, rate=rate, window=60)  # and the store agrees


def test_generation_throttle_counts_a_minute_from_the_first_request(settings: Any) -> None:
    settings.API_GENERATION_RATE = 2
    generation_throttle(team_id=TEAM)
    generation_throttle(team_id=TEAM)
    with pytest.raises(GenerationThrottled) as refused:
        generation_throttle(team_id=TEAM)
    assert refused.value.wait == 60 and refused.value.status_code == 429
    assert "try again in 60 seconds" in str(refused.value)
    settings.API_GENERATION_RATE = 0  # no limit
    generation_throttle(team_id=TEAM)


def test_generation_throttle_lets_requests_through_and_logs_when_redis_is_down(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.API_GENERATION_RATE = 1
    settings.API_THROTTLE_REDIS_URL = "redis://127.0.0.1:1/0"
    with caplog.at_level(logging.WARNING, logger="studio.services.throttling"):
        generation_throttle(team_id=TEAM)
        generation_throttle(team_id=TEAM)
    assert "let through" in caplog.text


def test_the_429_retry_after_says_when_a_slot_frees_within_a_second(
    api: Api, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 2
    url = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    api.as_(world.marketer)
    before_first = time.time()
    assert api.post(url, AD).status_code == 201
    after_first = time.time()
    assert api.post(url, AD).status_code == 201
    time.sleep(1.5)
    counts = (Brief.objects.count(), GenerationJob.objects.count())
    before_refused = time.time()
    refused = api.post(url, AD)
    after_refused = time.time()
    assert refused.status_code == 429
    # The first request leaves the window 60 s after it was admitted.
    earliest = before_first + 60 - after_refused
    latest = after_first + 60 - before_refused
    retry_after = int(refused["Retry-After"])
    assert math.floor(earliest) <= retry_after <= math.ceil(latest)
    assert f"try again in {retry_after} seconds" in refused.json()["detail"]
    assert (Brief.objects.count(), GenerationJob.objects.count()) == counts


def test_a_brief_refused_for_its_content_costs_no_slot(
    api: Api, world: World, settings: Any
) -> None:
    settings.API_GENERATION_RATE = 1
    url = reverse("api:project-briefs", kwargs={"project_id": world.project.pk})
    api.as_(world.marketer)
    invalid = api.post(url, {**AD, "title": ""})
    assert invalid.status_code == 400 and "title" in invalid.json()
    assert api.post(url, AD).status_code == 201
    assert api.post(url, {**AD, "title": ""}).status_code == 400  # field errors first
    assert api.post(url, AD).status_code == 429
