from __future__ import annotations

from django.contrib import admin

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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "live_model", "auto_retrain_threshold", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name"]
    raw_id_fields = ["live_model"]


@admin.register(Brief)
class BriefAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "kind", "status", "variants", "author", "created_at"]
    list_filter = ["status", "kind", "project__team"]
    search_fields = ["title", "instructions"]
    raw_id_fields = ["project", "author"]
    date_hierarchy = "created_at"


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "brief", "status", "attempts", "model_version", "created_at",
                    "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["brief", "model_version", "requested_by"]


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "job", "variant", "status", "version", "claimed_by",
                    "created_at"]
    list_filter = ["status", "project__team"]
    search_fields = ["text"]
    raw_id_fields = ["job", "project", "claimed_by"]


class AppendOnlyAdmin(admin.ModelAdmin):
    """Rows that are a record of what happened: readable, never edited or deleted."""

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Review)
class ReviewAdmin(AppendOnlyAdmin):
    list_display = ["id", "draft", "reviewer", "action", "created_at"]
    list_filter = ["action"]


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "team", "actor", "verb", "object_type", "object_id"]
    list_filter = ["verb", "team"]


@admin.register(TrainingExample)
class TrainingExampleAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "content_kind", "excluded", "created_at"]
    list_filter = ["kind", "excluded", "project__team"]
    search_fields = ["completion"]
    raw_id_fields = ["project", "source_review"]


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "content_hash", "created_at"]


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "method", "status", "step", "total_steps", "created_at"]
    list_filter = ["status", "method"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "status", "base_model", "created_at", "promoted_at"]
    list_filter = ["status"]
