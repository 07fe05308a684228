"""The Django admin goes through the services: same rules, same audit rows as the studio."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from studio.models import AuditEvent, Membership, ModelVersion, Role
from tests.conftest import World
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


def _change(membership: Membership) -> str:
    return reverse("admin:studio_membership_change", args=[membership.pk])


def test_it_audits_a_role_change_made_in_the_admin(
    operator: Client, world: World, admin_user: Any
) -> None:
    membership = world.memberships["marketer"]
    response = operator.post(_change(membership), {"role": "editor", "_save": "Save"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
    event = AuditEvent.objects.get(verb="member.role")
    assert (event.actor, event.team) == (admin_user, world.team)
    assert (event.before["role"], event.after["role"]) == ("marketer", "editor")


def test_it_keeps_the_last_admin_in_the_admin(operator: Client, world: World) -> None:
    membership = world.memberships["admin"]
    response = operator.post(_change(membership), {"role": "editor", "_save": "Save"},
                             follow=True)
    assert "A team needs at least one admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert not AuditEvent.objects.exists()

    url = reverse("admin:studio_membership_delete", args=[membership.pk])
    response = operator.post(url, {"post": "yes"}, follow=True)
    assert "A team needs at least one admin" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert not AuditEvent.objects.exists()


def test_it_cannot_move_a_membership_to_another_user_or_team(
    operator: Client, world: World
) -> None:
    # Either would be an unaudited add and remove in one: remove and add instead.
    membership = world.memberships["editor"]
    operator.post(_change(membership), {"role": "editor", "user": world.outsider.pk,
                                        "team": world.team.pk, "_save": "Save"})
    operator.post(_change(membership), {"role": "editor", "user": world.editor.pk,
                                        "team": world.other_team.pk, "_save": "Save"})
    membership.refresh_from_db()
    assert (membership.user, membership.team) == (world.editor, world.team)
    assert not AuditEvent.objects.exists()


def test_it_audits_removing_a_member_in_the_admin(operator: Client, world: World) -> None:
    membership = world.memberships["editor"]
    url = reverse("admin:studio_membership_delete", args=[membership.pk])
    assert operator.post(url, {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    event = AuditEvent.objects.get(verb="member.remove")
    assert event.before == {"user": "editor-a", "role": "editor"}


def test_an_operator_adds_an_existing_user_to_a_team_in_the_admin(
    operator: Client, world: World, admin_user: Any
) -> None:
    response = operator.post(reverse("admin:studio_membership_add"), {
        "user": world.outsider.pk, "team": world.team.pk, "role": "marketer", "_save": "Save",
    })
    assert response.status_code == 302
    membership = Membership.objects.get(user=world.outsider, team=world.team)
    assert membership.role == Role.MARKETER
    event = AuditEvent.objects.get(verb="member.add")
    assert (event.actor, event.object_id) == (admin_user, str(membership.pk))


def test_it_refuses_adding_a_deactivated_user_in_the_admin(
    operator: Client, world: World
) -> None:
    gone = UserFactory(username="gone")
    gone.is_active = False
    gone.save()
    response = operator.post(reverse("admin:studio_membership_add"), {
        "user": gone.pk, "team": world.team.pk, "role": "editor", "_save": "Save",
    }, follow=True)
    assert "No active user is called" in response.content.decode()
    assert not Membership.objects.filter(user=gone).exists()
    assert not AuditEvent.objects.exists()


def test_staff_who_are_not_operators_cannot_change_memberships(
    client: Client, world: World
) -> None:
    staff = UserFactory(username="staff")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_membership"))
    client.force_login(staff)
    membership = world.memberships["marketer"]
    response = client.post(_change(membership), {"role": "admin", "_save": "Save"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.MARKETER


def test_the_team_page_shows_members_read_only(operator: Client, world: World) -> None:
    url = reverse("admin:studio_team_change", args=[world.team.pk])
    body = operator.get(url).content.decode()
    assert "editor-a" in body
    assert 'name="memberships-0-role"' not in body
    # A crafted inline edit changes nothing either.
    operator.post(url, {
        "name": world.team.name, "slug": world.team.slug,
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": world.memberships["admin"].pk,
        "memberships-0-team": world.team.pk, "memberships-0-role": "marketer",
        "memberships-0-DELETE": "on", "_save": "Save",
    })
    assert Membership.objects.get(pk=world.memberships["admin"].pk).role == Role.ADMIN


def test_it_leaves_promotion_and_adapters_to_the_studio(operator: Client, world: World) -> None:
    project_url = reverse("admin:studio_project_change", args=[world.project.pk])
    body = operator.get(project_url).content.decode()
    assert 'name="live_model"' not in body
    operator.post(project_url, {"name": world.project.name, "team": world.team.pk,
                                "live_model": world.version.pk, "_save": "Save"})
    world.project.refresh_from_db()
    assert world.project.live_model_id is None

    version_url = reverse("admin:studio_modelversion_change", args=[world.version.pk])
    body = operator.get(version_url).content.decode()
    for field in ("status", "adapter_path", "adapter_sha256"):
        assert f'name="{field}"' not in body
    operator.post(version_url, {
        "project": world.project.pk, "number": world.version.number,
        "base_model": world.version.base_model, "status": "live",
        "adapter_path": "/tmp/evil.bin", "adapter_sha256": "0" * 64, "metrics": "{}",
        "_save": "Save",
    })
    world.version.refresh_from_db()
    assert world.version.status == ModelVersion.Status.READY
    assert (world.version.adapter_path, world.version.adapter_sha256) == ("", "")


def test_training_examples_cannot_be_edited_in_the_admin(operator: Client, world: World) -> None:
    from studio.models import TrainingExample

    example = TrainingExample.objects.create(
        project=world.project, kind="sft", content_kind="article",
        prompt=[{"role": "user", "content": "Write."}], completion="As approved.")
    url = reverse("admin:studio_trainingexample_change", args=[example.pk])
    body = operator.get(url).content.decode()
    assert 'name="completion"' not in body and "As approved." in body
    operator.post(url, {"completion": "Rewritten behind the snapshot's back.",
                        "excluded": "on", "_save": "Save"})
    example.refresh_from_db()
    assert (example.completion, example.excluded) == ("As approved.", False)
    assert operator.get(reverse("admin:studio_trainingexample_add")).status_code == 403


# No door across teams (issue 17) -------------------------------------------------------


def test_the_operators_webhook_url_passes_the_same_check_as_the_settings_page(
    operator: Client, world: World
) -> None:
    url = reverse("admin:studio_project_change", args=[world.project.pk])
    form = {"name": world.project.name, "language": "en", "brand_voice": "Bold.", "style_must": "",
            "style_must_not": "", "banned_terms": "", "auto_retrain_threshold": "",
            "base_model": "", "_save": "Save"}
    response = operator.post(url, {**form, "webhook_url": "http://127.0.0.1:6379/"},
                             follow=True)
    assert "Webhook URLs must point at a public address; 127.0.0.1 is loopback." in \
        response.content.decode()
    world.project.refresh_from_db()
    assert (world.project.webhook_url, world.project.brand_voice) == ("", world.project.brand_voice)
    assert not AuditEvent.objects.exists()

    ok = operator.post(url, {**form, "webhook_url": "", "base_model": "local:/models/qwen"})
    assert ok.status_code == 302
    world.project.refresh_from_db()
    assert (world.project.base_model, world.project.brand_voice) == ("local:/models/qwen", "Bold.")
    event = AuditEvent.objects.get(verb="project.settings")
    assert event.after["base_model"] == "local:/models/qwen"


def test_the_admin_cannot_move_or_rewrite_a_teams_rows(operator: Client, world: World) -> None:
    brief_url = reverse("admin:studio_brief_change", args=[world.brief.pk])
    body = operator.get(brief_url).content.decode()
    assert world.brief.title in body and 'name="project"' not in body  # shown, read-only
    assert operator.post(brief_url, {"project": world.other_project.pk, "title": "Moved",
                                     "_save": "Save"}).status_code == 403
    draft_url = reverse("admin:studio_draft_change", args=[world.draft.pk])
    assert operator.post(draft_url, {"text": "Rewritten", "_save": "Save"}).status_code == 403
    project_url = reverse("admin:studio_project_change", args=[world.project.pk])
    operator.post(project_url, {"name": world.project.name, "team": world.other_team.pk,
                                "_save": "Save"})
    world.brief.refresh_from_db()
    world.draft.refresh_from_db()
    world.project.refresh_from_db()
    assert world.brief.project == world.project and world.brief.title != "Moved"
    assert world.draft.text != "Rewritten"
    assert world.project.team == world.team
    for model in ("team", "project", "brief", "draft"):
        assert operator.get(reverse(f"admin:studio_{model}_add")).status_code == 403


def test_a_team_admin_is_not_let_into_the_django_admin(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.get(reverse("admin:studio_project_change", args=[world.other_project.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_demo_makes_no_superuser_and_demotes_an_old_one(
    settings: Any, tmp_path: Any, db: Any
) -> None:
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = False
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    users = get_user_model().objects.filter(username__in=["admin", "editor", "marketer"])
    assert users.count() == 3
    assert not users.filter(is_staff=True).exists()
    assert not users.filter(is_superuser=True).exists()
    assert Membership.objects.get(user__username="admin").role == Role.ADMIN
    printed = out.getvalue()
    for name in ("admin", "editor", "marketer"):
        assert f"  {name}" in printed  # run.sh prints these lines as the demo logins

    users.filter(username="admin").update(is_staff=True, is_superuser=True)  # an older demo
    call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.filter(is_superuser=True).exists()
