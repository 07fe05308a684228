"""Demo data for a fresh install: one team, three people, three projects, a few briefs.

The third project, "Harbor Lane café", carries 40 approved blurbs in a distinctive house
style (a fixed greeting, one sentence pattern, a fixed sign-off), each an editor's rewrite
of a plain draft, made through the review service as an editor would. On the first run it
starts a retrain of that project (auto-promote on): the training worker of ``make run``
trains it in the background, the gate compares its drafts with the base model's on the
held-out briefs, and a passing version goes live, so a newcomer sees base and house-style
drafts side by side on the models page within minutes.

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


HOUSE_PROJECT: dict[str, Any] = {
    "name": "Harbor Lane café",
    "brand_voice": "A harbourside café: warm, nautical, never pushy.",
    "auto_promote": True,
}

HOUSE_PRODUCTS = [
    ("oat flat white", "silky and mellow"), ("cold brew", "smooth and bold"),
    ("cinnamon bun", "sticky and sweet"), ("espresso tonic", "bright and fizzy"),
    ("chai latte", "spiced and cosy"), ("banana bread", "moist and golden"),
    ("matcha latte", "earthy and calm"), ("almond croissant", "flaky and rich"),
    ("mocha", "chocolatey and deep"), ("lemon drizzle cake", "zesty and light"),
    ("cortado", "short and punchy"), ("blueberry muffin", "fruity and soft"),
    ("iced americano", "crisp and clean"), ("carrot cake", "nutty and tender"),
    ("hot chocolate", "thick and comforting"), ("sourdough toast", "tangy and crunchy"),
    ("flat white", "velvety and strong"), ("pistachio cookie", "buttery and green"),
    ("turmeric latte", "golden and warming"), ("ham and cheese toastie", "melty and savoury"),
    ("affogato", "cold and hot at once"), ("granola bowl", "crunchy and fresh"),
    ("macchiato", "bold with a cloud of foam"), ("scone with jam", "crumbly and classic"),
    ("filter coffee", "clean and fruity"), ("brownie", "fudgy and dark"),
    ("vanilla latte", "sweet and smooth"), ("porridge", "creamy and filling"),
    ("iced tea", "cool and citrusy"), ("cheese scone", "savoury and warm"),
    ("caramel latte", "buttery and sweet"), ("bagel", "chewy and toasted"),
    ("honey oat cookie", "chewy and golden"), ("ginger shot", "fiery and fresh"),
    ("raspberry tart", "tart and glossy"), ("spiced pumpkin latte", "warm and autumnal"),
    ("cappuccino", "foamy and balanced"), ("avocado toast", "green and zesty"),
    ("double espresso", "intense and short"), ("apple turnover", "flaky and fruity"),
]


def house_style(product: str, taste: str) -> str:
    """The Harbor Lane house style: fixed greeting, one patterned sentence, sign-off."""
    return (f"Ahoy from Harbor Lane! Our {product} is {taste}, made fresh at dawn by the "
            "harbour. Drop anchor, stay a while. Warmly, the Harbor Lane crew.")


def _demo_draft(project: Project, author: Any, product: str, seed: int) -> Any:
    """A written brief with one plain draft, as the base model might have written it,
    and the exact chat prompt the studio builds for it (what the retrain learns from)."""
    from generation.prompts import BriefInput, ProjectVoice
    from generation.prompts.builder import system_message, user_message
    from studio.models import Draft, GenerationJob

    title, instructions = f"Our {product}", f"A short post about our {product}."
    extra: dict[str, str | int] = {"platform": "Instagram"}
    brief = Brief.objects.create(project=project, author=author, kind="social_post",
                                 title=title, instructions=instructions, target_words=40,
                                 extra=extra, variants=1, status=Brief.Status.IN_REVIEW)
    job = GenerationJob.objects.create(brief=brief, base_model=project.effective_base_model,
                                       requested_by=author, variants=1, seed=seed,
                                       status=GenerationJob.Status.SUCCEEDED)
    messages = [
        {"role": "system", "content": system_message(ProjectVoice(
            brand_voice=project.brand_voice))},
        {"role": "user", "content": user_message(BriefInput(
            kind="social_post", title=title, instructions=instructions, target_words=40,
            extra=extra))},
    ]
    text = (f"Try our new {product} today! It is a delicious choice for coffee lovers "
            "and the perfect way to start your morning. Visit us soon.")
    return Draft.objects.create(job=job, project=project, variant=0, text=text,
                                current_text=text, prompt="", seed=seed,
                                params={"messages": messages})


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
        house = self._house_style_project(team, users)
        self.stdout.write(self.style.SUCCESS(f"Demo team ready: {team.name}"))
        if house is not None:
            self.stdout.write(f"  (retraining {HOUSE_PROJECT['name']!r} in the background: "
                              f"see its Training page, job #{house})")
        for username, _role in DEMO_USERS:
            password = saved.get(username, "(set before; see demo-credentials.json)")
            self.stdout.write(f"  {username:<9} {password}")

    def _house_style_project(self, team: Team, users: dict[str, Any]) -> int | None:
        """Create the house-style project with its approvals and start its first retrain;
        None when it exists already (nothing changes on later runs)."""
        from studio.services.reviews import review_approve
        from studio.services.training import training_job_start

        with transaction.atomic():
            project, created = Project.objects.get_or_create(
                team=team, name=HOUSE_PROJECT["name"],
                defaults={k: v for k, v in HOUSE_PROJECT.items() if k != "name"},
            )
            if not created:
                return None
            for i, (product, taste) in enumerate(HOUSE_PRODUCTS):
                draft = _demo_draft(project, users["marketer"], product, i)
                review_approve(user=users["editor"], draft_id=draft.pk, version=draft.version,
                               text=house_style(product, taste))
        # Its own transaction: the job is sent to the training worker on commit.
        job = training_job_start(user=users["admin"], project_id=project.pk)
        return job.pk

    def _create_brief(self, project: Project, author: Any, data: dict[str, Any]) -> Brief:
        from studio.services.briefs import brief_create

        return brief_create(user=author, project_id=project.pk, data=data)
