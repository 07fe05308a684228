"""`make run` serves with DEBUG off unless --dev asks for it (scripts/run_env.sh)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = ("import json, django; from django.conf import settings; django.setup(); "
         "print(json.dumps({'debug': settings.DEBUG, 'ssl': settings.SECURE_SSL_REDIRECT, "
         "'hosts': settings.ALLOWED_HOSTS, 'storage': settings.STORAGES['staticfiles']['BACKEND'],"
         " 'key': len(settings.SECRET_KEY)}))")


def _settings(tmp_path: Path, *args: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"}}
    script = f'source scripts/run_env.sh {" ".join(args)} && "$PY" -c "$CODE"'
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**clean, "STUDIO_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "studio.settings",
             "PY": os.sys.executable, "CODE": PRINT, **env},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_runs_with_debug_off_by_default(tmp_path: Path) -> None:
    got = _settings(tmp_path)
    assert got["debug"] is False and got["ssl"] is False  # plain http on this machine
    assert "127.0.0.1" in got["hosts"]  # type: ignore[operator]
    assert got["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert _settings(tmp_path)["key"] == len(key)  # the same key every start


def test_dev_or_debug_true_turns_debug_on(tmp_path: Path) -> None:
    assert _settings(tmp_path, "--dev")["debug"] is True
    assert _settings(tmp_path, DEBUG="true")["debug"] is True
