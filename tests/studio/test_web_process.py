"""The web process never loads the model stack: only the Celery tasks import torch,
transformers, peft or TRL (design.md: the tasks are the only bridge to the models).
Checked in a fresh interpreter that loads what gunicorn loads: the WSGI application,
every URL's view module, the API and the admin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "transformers", "peft", "trl", "accelerate", "datasets"]

CODE = f"""
import json, sys
from studio.wsgi import application
from django.urls import get_resolver
import studio.urls, studio.api.views, studio.admin
from django.contrib import admin
admin.autodiscover()
get_resolver().url_patterns  # every view module the URLconf names
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def test_the_web_application_loads_without_the_model_stack() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings"}
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
