"""Fixtures of the training tests: example rows, isolated data folders, a tiny model.

The real-worker fixtures (Redis, `celery worker` processes) come from the pipeline tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.models import Project, TrainingExample
from tests.studio.pipeline.conftest import processes, redis_server  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _data_dirs(settings: Any, tmp_path: Path) -> None:
    settings.DATASET_DIR = tmp_path / "datasets"
    settings.ADAPTER_DIR = tmp_path / "adapters"


@pytest.fixture(autouse=True)
def _fresh_throttle(settings: Any) -> None:
    """Empty generation windows: tests here submit briefs, and team ids come back in a
    fresh test database while an earlier run's windows may still be open in Redis."""
    from tests.studio.api.conftest import clear_generation_counters

    clear_generation_counters(settings.API_THROTTLE_REDIS_URL)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generation.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def add_examples(
    project: Project, n: int, *, kind: str = TrainingExample.Kind.SFT, text: str = "",
    start: int = 0,
) -> list[TrainingExample]:
    """``n`` distinct examples of ``kind`` for ``project``."""
    rows = []
    for i in range(start, start + n):
        body = text or f"Coffee {i}: a bold headline, a short body and a clear call to action."
        rows.append(TrainingExample(
            project=project, kind=kind, content_kind="ad_copy",
            prompt=[{"role": "system", "content": "Brand voice: warm and plain."},
                    {"role": "user", "content": f"Write ad copy for coffee number {i}."}],
            completion=body if kind != TrainingExample.Kind.NEGATIVE else "",
            rejected_completion=(f"coffee {i} cheap guaranteed"
                                 if kind != TrainingExample.Kind.SFT else ""),
        ))
    return TrainingExample.objects.bulk_create(rows)


# Small enough to train in a few seconds on the tiny model.
FAST = {"max_steps": 4, "eval_steps": 2, "save_steps": 2, "batch_size": 4,
        "learning_rate": 1e-3, "early_stopping_patience": 0}
