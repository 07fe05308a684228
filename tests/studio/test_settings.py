"""Production configuration: the deploy check passes, and nothing insecure is a default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "studio" / "settings.py").read_text()
ENV_EXAMPLE = (ROOT / "docker" / ".env.example").read_text()


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**clean, **env}, timeout=300)


def test_it_passes_the_deploy_check_with_production_variables() -> None:
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env={"DEBUG": "false", "SECRET_KEY": "x" * 20 + "-production-secret-key-" + "y" * 30,
             "ALLOWED_HOSTS": "studio.example.com"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key() -> None:
    result = _manage("check", env={"DEBUG": "false", "ALLOWED_HOSTS": "studio.example.com"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_documents_every_environment_variable() -> None:
    names = set(re.findall(r'env(?:bool|int|list)?\("([A-Z_]+)"', SETTINGS))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', SETTINGS))
    names -= {"USER"}
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", ENV_EXAMPLE, re.MULTILINE))
    assert not names - documented, f"document in docker/.env.example: {sorted(names - documented)}"


def test_it_builds_the_production_static_files(tmp_path: Path) -> None:
    result = _manage(
        "collectstatic", "--no-input",
        env={"DEBUG": "false", "SECRET_KEY": "z" * 60, "ALLOWED_HOSTS": "studio.example.com",
             "STATIC_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/htmx-2.0.11.min.js" in manifest
