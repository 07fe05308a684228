from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse

from studio.models import (
    AuditEvent,
    Brief,
    DatasetSnapshot,
    Draft,
    GenerationJob,
    Membership,
    ModelVersion,
    Project,
    Review,
    Team,
    TrainingExample,
    TrainingJob,
)
from studio.services.errors import StudioError
from studio.services.members import is_operator, member_add, member_remove, member_set_role
from studio.services.projects import OPERATOR_FIELDS, project_update_settings


class MembershipInline(admin.TabularInline):
    """Read-only: role changes go through the Memberships admin, which calls the services."""

    model = Membership
    extra = 0
    fields = readonly_fields = ("user", "role", "created_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the admin shows but never changes: their rules live in the studio's
    services (tenancy, review, training, promotion), which this admin does not bypass."""

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    """Teams are made with ``manage.py create_team`` (audited, with a first admin)."""

    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships change only through studio.services.members, as in the studio.

    So an operator's change here is audited like a team admin's, and the rule that a
    team keeps at least one admin holds: a refused change shows the service's message.
    Adding one is how an operator puts an existing user in a team (``member_add``);
    only the role of an existing membership can change (else remove and add).
    """

    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    raw_id_fields = ["user"]
    actions = None  # no bulk delete: each removal goes through member_remove

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return ["user", "team", "created_at"] if obj is not None else ["created_at"]

    def _operator_only(self, request):  # type: ignore[no-untyped-def]
        return is_operator(request.user)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return self._operator_only(request)

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self._operator_only(request)

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self._operator_only(request)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if change:
            member_set_role(user=request.user, membership_id=obj.pk, role=obj.role)
        else:
            created = member_add(user=request.user, team_id=obj.team_id,
                                 username=obj.user.get_username(), role=obj.role)
            obj.pk, obj.created_at = created.pk, created.created_at

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        member_remove(user=request.user, membership_id=obj.pk)

    def _refusal(self, request, exc, url):  # type: ignore[no-untyped-def]
        # The admin wraps the change in a transaction: by now it is rolled back.
        self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
        return HttpResponseRedirect(url)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, StudioError) as exc:
            return self._refusal(request, exc, request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):  # type: ignore[no-untyped-def]
        try:
            return super().delete_view(request, object_id, extra_context)
        except (ValidationError, StudioError) as exc:
            url = reverse("admin:studio_membership_change", args=[object_id])
            return self._refusal(request, exc, url)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """An operator changes a project's settings (and base model) through
    ``project_update_settings``, exactly as the settings page does: the same validation
    (webhook URLs included) and audit row. Projects are added by team admins in the
    studio; the team and live model are not changed here (promotion is gated there)."""

    list_display = ["name", "team", "live_model", "auto_retrain_threshold", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name"]
    fields = ["team", *OPERATOR_FIELDS, "live_model"]
    readonly_fields = ["team", "live_model"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = None

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        project_update_settings(user=request.user, project_id=obj.pk,
                                data={f: form.cleaned_data[f] for f in form.changed_data})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, StudioError) as exc:
            # The admin wrapped the save in a transaction: by now it is rolled back.
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Brief)
class BriefAdmin(ReadOnlyAdmin):
    list_display = ["title", "project", "kind", "status", "variants", "author", "created_at"]
    list_filter = ["status", "kind", "project__team"]
    search_fields = ["title", "instructions"]
    raw_id_fields = ["project", "author"]
    date_hierarchy = "created_at"


@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "brief", "status", "attempts", "model_version", "created_at",
                    "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["brief", "model_version", "requested_by"]


@admin.register(Draft)
class DraftAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "job", "variant", "status", "version", "claimed_by",
                    "created_at"]
    list_filter = ["status", "project__team"]
    search_fields = ["text"]
    raw_id_fields = ["job", "project", "claimed_by"]


class AppendOnlyAdmin(ReadOnlyAdmin):
    """Rows that are a record of what happened: readable, never edited or deleted."""


@admin.register(Review)
class ReviewAdmin(AppendOnlyAdmin):
    list_display = ["id", "draft", "reviewer", "action", "created_at"]
    list_filter = ["action"]


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "team", "actor", "verb", "object_type", "object_id"]
    list_filter = ["verb", "team"]


@admin.register(TrainingExample)
class TrainingExampleAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "kind", "content_kind", "excluded", "created_at"]
    list_filter = ["kind", "excluded", "project__team"]
    search_fields = ["completion"]
    # Examples are frozen into snapshots by id and content hash; only `excluded` changes
    # (and that through the studio's examples page, which audits it).
    readonly_fields = ["project", "kind", "content_kind", "prompt", "completion",
                       "rejected_completion", "reason_tags", "source_review", "excluded",
                       "created_at"]


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "content_hash", "created_at"]


@admin.register(TrainingJob)
class TrainingJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "method", "status", "step", "total_steps", "created_at"]
    list_filter = ["status", "method"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["project", "number", "status", "base_model", "created_at", "promoted_at"]
    list_filter = ["status"]
    # Status is changed by training and by promotion in the studio (gated, audited); the
    # adapter's path and checksum are what the worker verifies before loading it.
    readonly_fields = ["status", "adapter_path", "adapter_sha256", "promoted_at"]
