"""Every URL × every role × two teams.

Each named URL of the site (pages, htmx fragments, API) must have a row in CASES; the
guard test fails when a URL is added without one. For each case a member of team A
whose role allows it gets a success, a member whose role does not gets 403, and the
outsider (an admin of team B) gets 404 — never 403, never the object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import World

ALL = ("admin", "editor", "marketer")


@dataclass(frozen=True)
class Case:
    name: str
    kwargs: Callable[[World], dict[str, Any]]
    allowed: tuple[str, ...]
    method: str = "get"
    data: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    # Whether the object belongs to team A (outsider → 404); False for team-less pages.
    tenant_scoped: bool = True


def _none(w: World) -> dict[str, Any]:
    return {}


CASES: list[Case] = [
    Case("dashboard", _none, ALL, tenant_scoped=False),
    Case("project_new", _none, ("admin",), tenant_scoped=False),
    Case("project_detail", lambda w: {"project_id": w.project.pk}, ALL),
    Case("project_settings", lambda w: {"project_id": w.project.pk}, ("admin",)),
    Case(
        "project_settings",
        lambda w: {"project_id": w.project.pk},
        ("admin",),
        method="post",
        data=lambda w: {"name": "Renamed", "brand_voice": "Bold."},
    ),
    Case("team_members", lambda w: {"team_id": w.team.pk}, ("admin",)),
    Case(
        "member_role",
        lambda w: {"membership_id": w.memberships["marketer"].pk},
        ("admin",),
        method="post",
        data=lambda w: {"role": "editor"},
    ),
    Case(
        "member_remove",
        lambda w: {"membership_id": w.memberships["marketer"].pk},
        ("admin",),
        method="post",
    ),
    Case(
        "team_switch",
        _none,
        ALL,
        method="post",
        data=lambda w: {"team": w.team.pk},
        tenant_scoped=True,
    ),
]

# URLs that need no login or are Django's own.
PUBLIC = {"login", "logout"}


def _named_patterns(patterns: list[URLPattern | URLResolver], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue
            ns = f"{p.namespace}:" if p.namespace else prefix
            names |= _named_patterns(p.url_patterns, ns)
        elif p.name:
            names.add(prefix + p.name)
    return names


def test_it_covers_every_named_url() -> None:
    covered = {case.name for case in CASES} | PUBLIC
    missing = _named_patterns(get_resolver().url_patterns) - covered
    assert not missing, f"add these URLs to the authorization matrix: {sorted(missing)}"


def _case_id(case: Case) -> str:
    return f"{case.method}:{case.name}"


@pytest.mark.parametrize("role", [*ALL, "outsider"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_it_enforces_roles_and_tenancy(client: Any, world: World, case: Case, role: str) -> None:
    client.force_login(world.user(role))
    url = reverse(case.name, kwargs=case.kwargs(world))
    send = getattr(client, case.method)
    response = send(url, case.data(world)) if case.method == "post" else send(url)
    if role == "outsider":
        if case.tenant_scoped:
            assert response.status_code == 404
            return
        # A team-less page shows the outsider only their own team's things.
        assert response.status_code in (200, 302, 403)
        body = response.content.decode()
        assert world.project.name not in body
        return
    if role in case.allowed:
        assert response.status_code in (200, 302), response.content[:500]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_it_sends_anonymous_users_to_login(client: Any, world: World, case: Case) -> None:
    url = reverse(case.name, kwargs=case.kwargs(world))
    response = getattr(client, case.method)(url)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert world.project.name not in response.content.decode()


def test_it_refuses_a_removed_member_with_an_old_session(client: Any, world: World) -> None:
    client.force_login(world.editor)
    url = reverse("project_detail", kwargs={"project_id": world.project.pk})
    assert client.get(url).status_code == 200
    world.memberships["editor"].delete()
    assert client.get(url).status_code == 404
