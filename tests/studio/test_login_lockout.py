"""Sign-in is throttled per account and per address (django-axes, switched on here), and
weak passwords are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import World

pytestmark = pytest.mark.django_db
PASSWORD = "s3cret-Pass-123"  # tests.factories.UserFactory's password


@pytest.fixture(autouse=True)
def _axes_on(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 10


def _login(client: Client, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=address)


def _cool_off() -> None:
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))


def test_forty_wrong_passwords_lock_the_account_then_the_right_one_works_again(
    client: Client, world: World
) -> None:
    codes = [_login(client, "editor-a", f"guess-{n}").status_code for n in range(40)]
    assert codes[:9] == [200] * 9  # the form again, "Please enter a correct username…"
    assert set(codes[10:]) == {429}
    locked = _login(client, "editor-a", PASSWORD)  # even the right password, for now
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed sign-ins" in body and "15 minutes" in body
    assert 'class="topbar"' in body  # the studio's layout, not a bare page
    assert "sessionid" not in locked.cookies

    _cool_off()
    ok = _login(client, "editor-a", PASSWORD)
    assert ok.status_code == 302 and ok["Location"] == reverse("dashboard")


def test_it_locks_an_address_that_tries_many_accounts(client: Client, world: World) -> None:
    for n in range(10):
        _login(client, f"nobody-{n}", "guess", address="10.0.0.9")
    # A real account with its right password, from that address: refused for now…
    assert _login(client, "marketer-a", PASSWORD, address="10.0.0.9").status_code == 429
    # …and from another address it works: the account itself was not attacked.
    assert _login(client, "marketer-a", PASSWORD, address="10.0.0.10").status_code == 302


def test_it_locks_an_account_attacked_from_many_addresses(client: Client, world: World) -> None:
    for n in range(10):
        _login(client, "admin-a", "guess", address=f"10.1.0.{n}")
    assert _login(client, "admin-a", PASSWORD, address="10.1.1.1").status_code == 429


def test_a_success_clears_earlier_failures(client: Client, world: World) -> None:
    for n in range(9):
        _login(client, "editor-a", f"typo-{n}")
    assert _login(client, "editor-a", PASSWORD).status_code == 302
    client.logout()
    for n in range(9):
        assert _login(client, "editor-a", f"typo-{n}").status_code == 200
    assert _login(client, "editor-a", PASSWORD).status_code == 302


def test_wrong_passwords_on_the_token_page_count_towards_the_lockout(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    url = reverse("api_tokens")
    codes = [client.post(url, {"name": "script", "password": f"guess-{n}"},
                         REMOTE_ADDR="10.2.0.1").status_code for n in range(12)]
    assert codes[:9] == [400] * 9 and codes[-1] == 429
    refused = client.post(url, {"name": "script", "password": PASSWORD}, REMOTE_ADDR="10.2.0.1")
    assert refused.status_code == 429
    assert not world.editor.api_tokens.exists()


def test_behind_a_proxy_it_counts_the_clients_address(settings: Any, client: Client,
                                                      world: World) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        client.post(reverse("login"), {"username": f"nobody-{n}", "password": "x"},
                    REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7")
    # Another client behind the same proxy is not locked out with the attacker.
    ok = client.post(reverse("login"), {"username": "editor-a", "password": PASSWORD},
                     REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert ok.status_code == 302


@pytest.mark.parametrize("weak", ["Coffee12", "123456789012", "password1234", "editor-a-2024"])
def test_weak_passwords_are_refused(world: World, weak: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(weak, user=world.editor)


def test_a_long_uncommon_password_is_accepted(world: World) -> None:
    validate_password("Roast-Notes-2045", user=world.editor)
