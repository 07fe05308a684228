"""Make an API token for a user, for scripts and deployments:

    python manage.py create_token alice [--name deploy]

Prints the key once (only its sha256 is kept). It works for API_TOKEN_DAYS days, until
its owner revokes it on the Tokens page, or until the owner's password changes.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.services.accounts import api_token_create


class Command(BaseCommand):
    help = "Make an API token for a user and print its key (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"],
                                               is_active=True).first()
        if user is None:
            raise CommandError(f"No active user is called {options['username']!r}.")
        try:
            token, key = api_token_create(user=user, name=options["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Token {key} for user {user.get_username()} "
                          f"(expires {token.expires_at:%Y-%m-%d})")
