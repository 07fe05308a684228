"""Demo data for a fresh install: one team, three people, two projects, a few briefs.

None of them is staff or a superuser: the Django admin is for an operator, made
explicitly with ``manage.py createsuperuser``. Passwords are generated on the first run
(never a fixed default) and kept, readable by the owner only, in ``$STUDIO_VAR_DIR/demo-credentials.json`` so the run command can
print them every time it starts. Running the command again changes nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.models import Brief, Membership, Project, Role, Team

DEMO_USERS = [("admin", Role.ADMIN), ("editor", Role.EDITOR), ("marketer", Role.MARKETER)]

DEMO_PROJECTS: list[dict[str, Any]] = [
    {
        "name": "Roastery blog",
        "brand_voice": "Warm, plain-spoken and curious. We talk like a barista who loves the "
        "craft but never lectures. Short sentences, concrete details, a little humour.",
        "style_must": "Use short sentences.\nMention where the beans come from.",
        "style_must_not": "Use exclamation marks.\nPromise health benefits.",
        "banned_terms": "cheap, guaranteed, best in the world",
        "briefs": [
            {
                "kind": "article",
                "title": "Why we roast light in summer",
                "instructions": "Explain our seasonal roast change and what customers will taste.",
                "audience": "Regular customers",
                "tone": "Friendly",
                "keywords": ["light roast", "summer", "origin"],
                "target_words": 300,
                "variants": 2,
            },
            {
                "kind": "faq",
                "title": "Subscription FAQ",
                "instructions": "Answer the common questions about pausing and changing beans.",
                "audience": "Subscribers",
                "tone": "Helpful",
                "keywords": ["subscription", "pause"],
                "target_words": 200,
                "variants": 1,
                "extra": {"questions": 4},
            },
        ],
    },
    {
        "name": "Autumn campaign ads",
        "brand_voice": "Bold and cosy. Short, vivid lines that make you smell the coffee.",
        "style_must": "End with a clear call to action.",
        "style_must_not": "Use more than 30 words in a headline.",
        "banned_terms": "cheap, free gift",
        "briefs": [
            {
                "kind": "ad_copy",
                "title": "Pumpkin spice blend launch",
                "instructions": "Launch ad for the new seasonal blend.",
                "audience": "Coffee lovers 25-45",
                "tone": "Playful",
                "keywords": ["pumpkin spice", "limited"],
                "target_words": 60,
                "variants": 3,
                "extra": {
                    "product": "Pumpkin Spice Blend, 250 g",
                    "channel": "Instagram",
                    "call_to_action": "Order before it's gone",
                },
            },
        ],
    },
]


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo team, users, projects and briefs (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        path = credentials_path()
        saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        User = get_user_model()
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "Demo Roasters"})
            users = {}
            for username, role in DEMO_USERS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    password = secrets.token_urlsafe(12)
                    user = User.objects.create_user(username=username, password=password)
                    saved[username] = password
                if user.is_staff or user.is_superuser:
                    # Demo accounts are team members, never operators: a superuser reads
                    # and changes every team's data in /admin/. (Earlier demos made the
                    # demo admin one.) Operators are made with `createsuperuser`.
                    user.is_staff = user.is_superuser = False
                    user.save(update_fields=["is_staff", "is_superuser"])
                Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
                users[username] = user
            for spec in DEMO_PROJECTS:
                spec = dict(spec)
                briefs = spec.pop("briefs")
                project, created = Project.objects.get_or_create(
                    team=team, name=spec["name"], defaults=spec
                )
                if created:
                    for brief in briefs:
                        self._create_brief(project, users["marketer"], brief)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        os.chmod(path, 0o600)
        self.stdout.write(self.style.SUCCESS(f"Demo team ready: {team.name}"))
        for username, _role in DEMO_USERS:
            password = saved.get(username, "(set before; see demo-credentials.json)")
            self.stdout.write(f"  {username:<9} {password}")

    def _create_brief(self, project: Project, author: Any, data: dict[str, Any]) -> Brief:
        from studio.services.briefs import brief_create

        return brief_create(user=author, project_id=project.pk, data=data)
