"""Fixtures for generation tests: a tiny random model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in these tests may reach the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generation.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
