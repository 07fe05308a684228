"""One's own account (passwords, API tokens) in the authorization matrix: every signed-in
user, no team involved; someone else's token is "not found" (tests/studio/test_tokens.py)."""

from __future__ import annotations

from typing import Any

from studio.services.accounts import api_token_create
from tests.studio.authz.case import ALL, Case, no_kwargs


def _admins_token(w: Any) -> dict[str, Any]:
    token, _ = api_token_create(user=w.admin, name="matrix")
    return {"token_id": token.pk}


CASES: list[Case] = [
    # Without a one-time password to replace, the page sends you to the ordinary one.
    Case("password_set", no_kwargs, ALL, tenant_scoped=False),
    Case("api_tokens", no_kwargs, ALL, tenant_scoped=False),
    Case("api_tokens", no_kwargs, ALL, method="post", tenant_scoped=False, ok=(400,),
         data=lambda w: {"name": "script", "password": "wrong"}),
    Case("api_token_revoke", _admins_token, ALL, method="post", tenant_scoped=False,
         ok=(302, 404)),
]
