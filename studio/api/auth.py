"""``Authorization: Token <key>`` for scripts: the studio's own tokens (expiring,
revocable, dead after a password change), and a limit on wrong keys per address."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from studio.services.accounts import (
    api_token_user,
    client_address,
    token_failure_record,
    token_failures_exceeded,
)


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        address = client_address(self._request._request)
        refused = token_failures_exceeded(address)
        if refused is not None:
            raise exceptions.Throttled(
                wait=refused.wait,
                detail=f"Too many requests with a wrong token from your address; try again "
                       f"in {refused.wait} seconds.")
        user, why = api_token_user(key)
        if user is None:
            token_failure_record(address)
            raise exceptions.AuthenticationFailed(why)
        return user, None
