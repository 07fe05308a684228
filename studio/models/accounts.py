"""A person's account beyond Django's user: password state and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Account(models.Model):
    """What the studio keeps about a user's sign-in, one row per user (made on demand)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                primary_key=True, related_name="studio_account")
    # Set for a generated one-time password (an invite, create_team): the first sign-in
    # uses it up and leads straight to choosing a password.
    password_must_change = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"account of {self.user_id}"


class ApiToken(models.Model):
    """A key for scripts (``Authorization: Token <key>``). Only its sha256 is stored: the
    key is shown once, when it is made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=80)
    key_sha256 = models.CharField(max_length=64, unique=True)
    # The key's first characters, so its owner can tell tokens apart.
    prefix = models.CharField(max_length=12)
    # sha256 of the owner's password hash when the token was made: a token made before
    # the password last changed (by any door: the page, the admin, changepassword) is dead.
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
