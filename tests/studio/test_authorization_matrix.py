"""Every URL × every role × two teams.

Each named URL of the site (pages, htmx fragments, API) must have a row in one of the
``tests/studio/authz/cases_*.py`` modules; the guard test fails when a URL is added
without one. For each case a member of team A whose role allows it gets a success, a
member whose role does not gets 403, and the outsider (an admin of team B) gets 404 —
never 403, never the object.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import tests.studio.authz as authz_pkg
from tests.conftest import World
from tests.studio.authz.case import ALL, Case


def _collect_cases() -> list[Case]:
    cases: list[Case] = []
    for info in pkgutil.iter_modules(authz_pkg.__path__):
        if info.name.startswith("cases_"):
            cases += importlib.import_module(f"{authz_pkg.__name__}.{info.name}").CASES
    return cases


CASES = _collect_cases()

# URLs that need no login, or are not tenant data at all.
PUBLIC = {"login", "logout", "api-root", "schema", "api-docs", "healthz"}


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
    assert not missing, f"add these URLs to tests/studio/authz/cases_*.py: {sorted(missing)}"


def _case_id(case: Case) -> str:
    return f"{case.method}:{case.name}"


def _send(client: Any, case: Case, world: World) -> Any:
    url = reverse(case.name, kwargs=case.kwargs(world))
    send = getattr(client, case.method)
    if case.method == "get":
        return send(url, headers=case.headers)
    data = case.data(world)
    if case.name.startswith("api:"):
        return send(url, json.dumps(data), content_type="application/json", headers=case.headers)
    return send(url, data, headers=case.headers)


@pytest.mark.parametrize("role", [*ALL, "outsider"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_it_enforces_roles_and_tenancy(client: Any, world: World, case: Case, role: str) -> None:
    client.force_login(world.user(role))
    response = _send(client, case, world)
    if role == "outsider":
        if case.tenant_scoped:
            assert response.status_code == 404
            return
        # A team-less page shows the outsider only their own team's things.
        assert response.status_code in (*case.ok, 403)
        assert world.project.name not in response.content.decode()
        return
    if role in case.allowed:
        assert response.status_code in case.ok, response.content[:500]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_it_refuses_anonymous_users(client: Any, world: World, case: Case) -> None:
    response = _send(client, case, world)
    if case.name.startswith("api:"):
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302
        assert reverse("login") in response["Location"]
    assert world.project.name not in response.content.decode()


def test_it_refuses_a_removed_member_with_an_old_session(client: Any, world: World) -> None:
    client.force_login(world.editor)
    url = reverse("project_detail", kwargs={"project_id": world.project.pk})
    assert client.get(url).status_code == 200
    world.memberships["editor"].delete()
    assert client.get(url).status_code == 404
