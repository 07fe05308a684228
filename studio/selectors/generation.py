from __future__ import annotations

from studio.models import Brief, GenerationJob


def brief_latest_job(*, brief: Brief) -> GenerationJob | None:
    """The brief's newest generation job (what its status line shows)."""
    return brief.jobs.select_related("model_version").order_by("-created_at", "-pk").first()
