"""Reads about one's own account: API tokens and whether a password must change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from studio.models import Account, ApiToken

REVOKED_BY_OWNER = "revoked by its owner"
REVOKED_BY_PASSWORD = "password changed"  # noqa: S105 - a reason shown to users


def password_fingerprint(user: Any) -> str:
    """sha256 of the user's password hash: changes whenever the password does."""
    return hashlib.sha256((user.password or "").encode()).hexdigest()


def password_must_change(user: Any) -> bool:
    return Account.objects.filter(user_id=user.pk, password_must_change=True).exists()


def api_token_state(token: ApiToken) -> str:
    """``active``, or why the token no longer works."""
    if token.revoked_at is not None:
        return token.revoked_reason or REVOKED_BY_OWNER
    if token.password_fingerprint != password_fingerprint(token.user):
        return REVOKED_BY_PASSWORD
    if token.expires_at <= timezone.now():
        return "expired"
    if not token.user.is_active:
        return "account deactivated"
    return "active"


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    state: str  # "active", or why it no longer works


def api_tokens_of(user: Any) -> list[TokenRow]:
    """The user's API tokens, newest first, each with whether it still works."""
    tokens = ApiToken.objects.filter(user_id=user.pk).select_related("user")
    return [TokenRow(token=t, state=api_token_state(t)) for t in tokens]
