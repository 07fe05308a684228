from __future__ import annotations

from tests.studio.authz.case import ALL, Case, no_kwargs

CASES: list[Case] = [
    Case("dashboard", no_kwargs, ALL, tenant_scoped=False),
    Case("project_new", no_kwargs, ("admin",), tenant_scoped=False),
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
        "team_members",
        lambda w: {"team_id": w.team.pk},
        ("admin",),
        method="post",
        data=lambda w: {"username": "invited-person", "role": "editor"},
    ),
    # One's own account: every signed-in user, no team involved.
    Case("password_change", no_kwargs, ALL, tenant_scoped=False),
    Case(
        "password_change",
        no_kwargs,
        ALL,
        method="post",
        data=lambda w: {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
        tenant_scoped=False,
    ),
    Case("password_change_done", no_kwargs, ALL, tenant_scoped=False),
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
        no_kwargs,
        ALL,
        method="post",
        data=lambda w: {"team": w.team.pk},
        tenant_scoped=True,
    ),
]
