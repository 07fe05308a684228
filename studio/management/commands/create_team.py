"""Create a team and its first admin: how a production install gets its first tenant.

    python manage.py create_team "Acme Coffee" --admin alice [--email alice@acme.test]

An existing user becomes the team's admin; a new one is created with a generated
password, printed once. The admin then adds projects and members from the studio.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.services.members import team_create


class Command(BaseCommand):
    help = "Create a team with its first admin (an existing user, or a new one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the team's name")
        parser.add_argument("--admin", required=True, help="username of the team's admin")
        parser.add_argument("--email", default="", help="email for a new admin user")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            team, password = team_create(name=options["name"], admin_username=options["admin"],
                                         admin_email=options["email"])
        except ValidationError as exc:
            raise CommandError("; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )) from exc
        self.stdout.write(f"Team {team.name!r} created (slug {team.slug}); "
                          f"admin: {options['admin']}")
        if password:
            self.stdout.write(f"New user {options['admin']!r}, password: {password}  "
                              "(shown once, for one sign-in, which asks for a new password)")
