"""Running generation jobs (issue 4 wires the engine in)."""

from __future__ import annotations


def job_run(*, job_id: int) -> None:
    raise NotImplementedError("generation pipeline not wired yet")
