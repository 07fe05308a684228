"""One's own account: sign in, passwords (one-time ones included) and API tokens.

Pages that show a secret (a new token's key) or take a password are never cached.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from studio.middleware import PASSWORD_MUST_CHANGE
from studio.selectors.accounts import api_tokens_of
from studio.services.accounts import (
    api_token_create,
    api_token_revoke,
    password_changed,
    password_one_time_use,
)
from studio.views.errors import error_text


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if password_one_time_use(user=user):
            update_session_auth_hash(self.request, user)  # this session stays signed in
            self.request.session[PASSWORD_MUST_CHANGE] = True
            return redirect("password_set")
        return response


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        revoked = password_changed(user=form.user)
        if revoked:
            messages.info(self.request, f"Your {revoked} API token"
                                        f"{'s were' if revoked != 1 else ' was'} revoked.")
        return response


@never_cache
@login_required
def password_set(request: HttpRequest) -> HttpResponse:
    """The first page after signing in with a one-time password: choose your own."""
    if not request.session.get(PASSWORD_MUST_CHANGE):
        return redirect("password_change")
    form = SetPasswordForm(request.user, request.POST or None)  # type: ignore[type-var]
    if request.method == "POST" and form.is_valid():
        user = form.save()
        password_changed(user=user)
        update_session_auth_hash(request, user)  # type: ignore[arg-type]
        request.session.pop(PASSWORD_MUST_CHANGE, None)
        messages.success(request, "Password set. Welcome to the studio.")
        return redirect("dashboard")
    return render(request, "registration/password_set_form.html", {"form": form})


@never_cache
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List one's API tokens; make one (after the password again: a session alone does
    not mint a key that outlives it; failures count towards the sign-in lockout)."""
    new_key = None
    errors: dict[str, str] = {}
    name = ""
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "")
        password = request.POST.get("password", "")
        if authenticate(request, username=request.user.get_username(),
                        password=password) is None:
            errors["password"] = "That is not your password."  # noqa: S105
            status = 400
        else:
            try:
                _, new_key = api_token_create(user=request.user, name=name)
                name = ""
            except ValidationError as exc:
                errors["name"] = error_text(exc)
                status = 400
    return render(request, "registration/api_tokens.html", {
        "tokens": api_tokens_of(request.user), "new_key": new_key, "errors": errors,
        "name": name, "token_days": settings.API_TOKEN_DAYS,
    }, status=status)


@never_cache
@login_required
@require_POST
def api_token_delete(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(user=request.user, token_id=token_id)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens")
