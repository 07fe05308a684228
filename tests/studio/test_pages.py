from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studio.models import AuditEvent, Membership, Project, Role
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_it_logs_in_and_out(client: Client, world: World) -> None:
    response = client.post(
        reverse("login"), {"username": "admin-a", "password": "s3cret-Pass-123"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_it_explains_a_wrong_password(client: Client, world: World) -> None:
    response = client.post(reverse("login"), {"username": "admin-a", "password": "nope"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Please enter a correct username and password" in body
    assert "_auth_user_id" not in client.session


def test_it_shows_project_counts_on_the_dashboard(client: Client, world: World) -> None:
    BriefFactory(project=world.project, status="queued")
    job = GenerationJobFactory(brief=BriefFactory(project=world.project))
    DraftFactory(job=job, variant=0)
    DraftFactory(job=job, variant=1, status="approved")
    client.force_login(world.editor)
    body = client.get(reverse("dashboard")).content.decode()
    assert "Alpha blog" in body
    assert "Beta blog" not in body
    assert '<strong data-count="briefs-waiting">1</strong>' in body
    # The world's draft plus the new pending one; the approved one is not counted.
    assert '<strong data-count="drafts-to-review">2</strong>' in body


def test_it_runs_a_constant_number_of_queries_on_the_dashboard(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    client.get(reverse("dashboard"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard"))
    for n in range(10):
        project = ProjectFactory(team=world.team)
        DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=project)), variant=n % 8)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("dashboard"))
    assert len(many) == len(few)


def test_it_shows_an_empty_state_to_a_team_without_projects(client: Client, world: World) -> None:
    Project.objects.filter(team=world.team).delete()
    client.force_login(world.admin)
    body = client.get(reverse("dashboard")).content.decode()
    assert "No projects yet" in body
    assert reverse("project_new") in body


def test_it_switches_teams(client: Client, world: World) -> None:
    Membership.objects.create(user=world.editor, team=world.other_team, role=Role.MARKETER)
    client.force_login(world.editor)
    assert "Alpha blog" in client.get(reverse("dashboard")).content.decode()
    client.post(reverse("team_switch"), {"team": world.other_team.pk})
    body = client.get(reverse("dashboard")).content.decode()
    assert "Beta blog" in body
    assert "Alpha blog" not in body


def test_it_refuses_a_switch_to_a_foreign_team(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(reverse("team_switch"), {"team": world.other_team.pk})
    assert response.status_code == 404


def test_it_saves_project_settings_with_an_audit_row(client: Client, world: World) -> None:
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"name": "Alpha blog", "brand_voice": "Bold and brief.",
                                 "style_must": "Be concrete.", "banned_terms": "synergy"})
    assert response.status_code == 302
    world.project.refresh_from_db()
    assert world.project.brand_voice == "Bold and brief."
    assert world.project.banned_term_list == ["synergy"]
    event = AuditEvent.objects.get(verb="project.settings")
    assert event.before["brand_voice"] == "Warm and plain."
    assert event.after["brand_voice"] == "Bold and brief."


def test_it_refuses_a_one_megabyte_brand_voice(client: Client, world: World) -> None:
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"name": "Alpha blog", "brand_voice": "x" * 1_000_000})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert "Ensure this value has at most 4000 characters" in response.content.decode()
    world.project.refresh_from_db()
    assert world.project.brand_voice == "Warm and plain."


def test_it_refuses_a_duplicate_project_name(client: Client, world: World) -> None:
    ProjectFactory(team=world.team, name="Taken")
    client.force_login(world.admin)
    response = client.post(reverse("project_new"), {"name": "Taken"})
    assert response.status_code == 200
    assert "already" in response.content.decode()
    assert Project.objects.filter(team=world.team, name="Taken").count() == 1


def test_it_allows_the_same_project_name_in_another_team(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post(reverse("project_new"), {"name": "Beta blog"})
    assert response.status_code == 302
    assert Project.objects.filter(name="Beta blog").count() == 2


def test_it_keeps_a_team_admin(client: Client, world: World) -> None:
    client.force_login(world.admin)
    admin_membership = world.memberships["admin"]
    response = client.post(
        reverse("member_role", kwargs={"membership_id": admin_membership.pk}),
        {"role": "editor"},
        follow=True,
    )
    assert "at least one admin" in response.content.decode()
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.ADMIN
    response = client.post(
        reverse("member_remove", kwargs={"membership_id": admin_membership.pk}), follow=True
    )
    assert "at least one admin" in response.content.decode()
    assert Membership.objects.filter(pk=admin_membership.pk).exists()


def test_it_changes_roles_and_audits_them(client: Client, world: World) -> None:
    client.force_login(world.admin)
    membership = world.memberships["marketer"]
    client.post(reverse("member_role", kwargs={"membership_id": membership.pk}),
                {"role": "editor"})
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
    event = AuditEvent.objects.get(verb="member.role")
    assert (event.before["role"], event.after["role"]) == ("marketer", "editor")


def test_it_invites_new_members_and_never_pulls_in_existing_users(
    client: Client, world: World
) -> None:
    client.force_login(world.admin)
    url = reverse("team_members", kwargs={"team_id": world.team.pk})
    response = client.post(url, {"username": "outsider", "role": "editor"})
    assert "That username can&#x27;t be added" in response.content.decode()
    assert not Membership.objects.filter(user=world.outsider, team=world.team).exists()
    response = client.post(url, {"username": "nobody", "role": "editor"})
    assert response.status_code == 200
    assert 'id="invited-password"' in response.content.decode()
    assert Membership.objects.get(user__username="nobody", team=world.team).role == Role.EDITOR


def test_it_sends_a_strict_content_security_policy(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.get(reverse("dashboard"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    body = response.content.decode()
    assert '"allowEval": false' in body
    assert '"allowScriptTags": false' in body
    assert '"selfRequestsOnly": true' in body
    assert "<script>" not in body  # only <script src=...> from our own static files
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_it_refuses_unsafe_requests_without_a_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"name": "Hacked"})
    assert response.status_code == 403
    response = client.post(url, {"name": "Hacked"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    world.project.refresh_from_db()
    assert world.project.name == "Alpha blog"


def test_it_escapes_project_text(client: Client, world: World) -> None:
    world.project.brand_voice = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    world.project.save()
    client.force_login(world.editor)
    for name in ("project_detail",):
        body = client.get(reverse(name, kwargs={"project_id": world.project.pk})).content.decode()
        assert "<script>alert(1)" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_it_ignores_extra_fields_in_the_settings_form(client: Client, world: World) -> None:
    client.force_login(world.admin)
    url = reverse("project_settings", kwargs={"project_id": world.project.pk})
    client.post(url, {"name": "Alpha blog", "team": world.other_team.pk, "live_model": 99})
    world.project.refresh_from_db()
    assert world.project.team_id == world.team.pk
    assert world.project.live_model_id is None


def test_it_serves_the_admin_with_escaped_text(client: Client, world: World, admin_user: Any) -> None:
    world.draft.text = '<script>alert("x")</script>'
    world.draft.save()
    client.force_login(admin_user)
    body = client.get(reverse("admin:studio_draft_change", args=[world.draft.pk])).content.decode()
    assert "&lt;script&gt;" in body
    assert 'alert("x")</script>' not in body
