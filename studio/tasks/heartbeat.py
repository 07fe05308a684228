"""Keep a job's claim alive from a side thread while the model works in this one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def heartbeat(beat: Callable[[], object], *, every: float, name: str) -> Iterator[None]:
    """Call ``beat()`` every ``every`` seconds until the block ends.

    Model loading, generation and evaluation can run for minutes without a progress
    callback; without a beat the reconciler would think the worker died.
    """
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every):
                beat()
        finally:
            connection.close()  # the side thread's own database connection

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
