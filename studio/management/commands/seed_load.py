"""Load-test data: one team with many pending drafts, written fast with bulk_create.

    manage.py seed_load --drafts 100000 --password "$LOAD_PASSWORD"

Creates (or reuses) the team ``load``, the users ``load-editor`` and ``load-marketer``
with the given password, ``--projects`` projects and enough briefs (``--variants``
drafts each) to reach ``--drafts`` pending drafts. Running it again tops the drafts up
to the number asked for; ``--reset`` deletes the team's projects first. Meant for a
benchmark database, never production: the password is given on the command line.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from studio.models import (
    Brief,
    Draft,
    GenerationJob,
    Membership,
    Project,
    Role,
    Team,
)
from studio.models.briefs import kind_names

WORDS = ["coffee", "roast", "origin", "crema", "bean", "harvest", "morning", "cup", "flavour", "aroma", "farm", "season", "espresso", "grinder", "brew", "water", "kettle", "filter", "light", "dark", "smooth", "bright", "note", "cocoa", "berry", "citrus", "honey", "caramel", "warm", "plain", "friendly", "customer", "story"]
FLAG_CODES = ["banned_term", "style_rule", "personal_data_email", "truncated"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class Command(BaseCommand):
    help = "Seed a benchmark team with many pending drafts (bulk inserts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--drafts", type=int, default=100_000)
        parser.add_argument("--projects", type=int, default=5)
        parser.add_argument("--variants", type=int, default=4)
        parser.add_argument("--password", required=True)
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--reset", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if len(options["password"]) < 8:
            raise CommandError("Give a password of at least 8 characters.")
        rng = random.Random(options["seed"])
        started = time.monotonic()
        team, _ = Team.objects.get_or_create(slug="load", defaults={"name": "Load test"})
        users = {}
        for name, role in (("load-editor", Role.EDITOR), ("load-marketer", Role.MARKETER),
                           ("load-admin", Role.ADMIN)):
            user, _ = get_user_model().objects.get_or_create(username=name)
            user.set_password(options["password"])
            user.save()
            Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
            users[role] = user
        if options["reset"]:
            Project.objects.filter(team=team).delete()
        projects = [
            Project.objects.get_or_create(
                team=team, name=f"Load project {i + 1}",
                defaults={"brand_voice": "Warm and plain.", "banned_terms": "cheap"},
            )[0]
            for i in range(options["projects"])
        ]
        have = Draft.objects.filter(project__team=team, status=Draft.Status.PENDING).count()
        wanted = options["drafts"] - have
        variants = options["variants"]
        author = users[Role.MARKETER]
        kinds = kind_names()
        now = timezone.now()
        made = 0
        while made < wanted:
            n_briefs = max(1, min(options["batch"] // variants, -(-(wanted - made) // variants)))
            with transaction.atomic():
                briefs = Brief.objects.bulk_create([
                    Brief(
                        project=rng.choice(projects), author=author, kind=rng.choice(kinds),
                        title=f"Load brief {_text(rng, 4)}", instructions=_text(rng, 20),
                        variants=variants, status=Brief.Status.IN_REVIEW,
                        deadline=(now + timedelta(hours=rng.randint(1, 500))
                                  if rng.random() < 0.2 else None),
                    )
                    for _ in range(n_briefs)
                ])
                jobs = GenerationJob.objects.bulk_create([
                    GenerationJob(
                        brief=b, base_model="bundled:smollm2-135m-instruct", requested_by=author,
                        variants=variants, seed=rng.randrange(2**31),
                        status=GenerationJob.Status.SUCCEEDED,
                    )
                    for b in briefs
                ])
                drafts: list[Draft] = []
                for brief, job in zip(briefs, jobs, strict=True):
                    for v in range(variants):
                        if made + len(drafts) >= wanted:
                            break
                        text = _text(rng, rng.randint(40, 120))
                        codes = [c for c in FLAG_CODES if rng.random() < 0.08]
                        drafts.append(Draft(
                            job=job, project_id=brief.project_id, variant=v, text=text,
                            current_text=text, prompt=f"<|im_start|>user\n{brief.title}<|im_end|>",
                            seed=job.seed + v, flag_codes=codes,
                            flags=[{"code": c, "message": c.replace("_", " "), "span": None}
                                   for c in codes],
                        ))
                Draft.objects.bulk_create(drafts, batch_size=2000)
                made += len(drafts)
            self.stdout.write(f"  {made}/{wanted} drafts")
        if wanted > 0 and connection.vendor == "postgresql":
            # Spread ages over the last 30 days so the age filter has something to do.
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE studio_draft SET created_at = now() - (id %% 43200) * interval '1 minute'"
                    " WHERE project_id = ANY(%s)",
                    [[p.pk for p in projects]],
                )
                cursor.execute("ANALYZE studio_draft; ANALYZE studio_brief;"
                               " ANALYZE studio_generationjob;")
        total = Draft.objects.filter(project__team=team, status=Draft.Status.PENDING).count()
        self.stdout.write(self.style.SUCCESS(
            f"team 'load': {total} pending drafts in {len(projects)} projects "
            f"({time.monotonic() - started:.1f} s); users load-editor, load-marketer, load-admin"
        ))
