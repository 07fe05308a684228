"""Accounts: one-time passwords, password changes and API tokens.

Failed sign-ins are counted by django-axes (settings: ``AXES_*``); this module gives it
the client's address and counts wrong API tokens per address with the ``limits``
library, on the broker's Redis.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from limits import RateLimitItemPerMinute

from studio.models import Account, ApiToken
from studio.selectors.accounts import (
    REVOKED_BY_OWNER,
    REVOKED_BY_PASSWORD,
    api_token_state,
    password_fingerprint,
    password_must_change,
)
from studio.services.throttling import rate_limiter

logger = logging.getLogger(__name__)

TOKEN_PREFIX_CHARS = 8


def client_address(request: HttpRequest) -> str:
    """The client's address: the socket's, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    entry they appended to X-Forwarded-For (entries further left are the client's word)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                     if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


# One-time passwords ------------------------------------------------------------------


def password_one_time_set(*, user: Any) -> None:
    """Mark the user's (generated) password as one-time: see ``password_one_time_use``."""
    Account.objects.update_or_create(user=user, defaults={"password_must_change": True})


def password_one_time_use(*, user: Any) -> bool:
    """Called once a sign-in succeeded. A one-time password works once: it is made
    unusable now, and the signed-in session must choose a new password before anything
    else (``PasswordChangeRequiredMiddleware``). Returns whether it was one."""
    if not password_must_change(user):
        return False
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return True


def password_changed(*, user: Any) -> int:
    """After the user's password changed on a page: it is theirs now (no longer one-time)
    and their API tokens are revoked. Returns how many tokens were revoked.

    (A change by any other door kills the tokens too: see ``ApiToken.password_fingerprint``.)
    """
    with transaction.atomic():
        Account.objects.filter(user_id=user.pk).update(password_must_change=False)
        return ApiToken.objects.filter(user_id=user.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=REVOKED_BY_PASSWORD)


# API tokens ----------------------------------------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def api_token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """Make a token for the user; returns it and its key, which is never shown again.
    It works for ``API_TOKEN_DAYS`` days, until revoked, or until the password changes."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, such as the script that uses it."})
    if len(name) > 80:
        raise ValidationError({"name": "Token names are at most 80 characters."})
    key = secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, key_sha256=_sha256(key), prefix=key[:TOKEN_PREFIX_CHARS],
        password_fingerprint=password_fingerprint(user),
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_DAYS),
    )
    return token, key


def api_token_revoke(*, user: Any, token_id: object) -> ApiToken:
    """Revoke one of the user's own tokens (anyone else's is "not found")."""
    try:
        token = ApiToken.objects.get(pk=int(str(token_id)), user_id=user.pk)
    except (ValueError, ApiToken.DoesNotExist) as exc:
        raise Http404("Not found") from exc
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_reason = REVOKED_BY_OWNER
        token.save(update_fields=["revoked_at", "revoked_reason"])
    return token


def api_token_user(key: str) -> tuple[Any | None, str]:
    """The active user a key belongs to, else None and why (for the 401 message)."""
    token = ApiToken.objects.select_related("user").filter(key_sha256=_sha256(key)).first()
    if token is None:
        return None, "Invalid token."
    state = api_token_state(token)
    if state != "active":
        return None, f"Token {state}."
    now = timezone.now()
    # At most one write a minute per token, not one per request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, ""


# Wrong tokens per address ---------------------------------------------------------------


@dataclass(frozen=True)
class TokenGuessing:
    """An address sent too many wrong tokens; ``wait`` whole seconds."""

    wait: int


def _failure_item() -> RateLimitItemPerMinute:
    return RateLimitItemPerMinute(settings.API_TOKEN_FAILURE_RATE)


def token_failures_exceeded(address: str) -> TokenGuessing | None:
    """Whether the address is over ``API_TOKEN_FAILURE_RATE`` wrong tokens a minute; checked
    before a key is looked at, so a right guess gets no answer either. If Redis is down,
    nothing is refused (logged)."""
    rate = settings.API_TOKEN_FAILURE_RATE
    if rate <= 0:
        return None
    try:
        limiter = rate_limiter(settings.API_THROTTLE_REDIS_URL)
        if limiter.test(_failure_item(), "token-failure", address):
            return None
        stats = limiter.get_window_stats(_failure_item(), "token-failure", address)
    except Exception:  # noqa: BLE001 - any storage error: let it through, say so
        logger.warning("Rate-limit store unreachable; token check for %s not limited", address)
        return None
    return TokenGuessing(wait=max(1, int(stats.reset_time - timezone.now().timestamp()) + 1))


def token_failure_record(address: str) -> None:
    if settings.API_TOKEN_FAILURE_RATE <= 0:
        return
    try:
        rate_limiter(settings.API_THROTTLE_REDIS_URL).hit(_failure_item(), "token-failure", address)
    except Exception:  # noqa: BLE001
        logger.warning("Rate-limit store unreachable; wrong token from %s not counted", address)
