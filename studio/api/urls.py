"""The REST API under /api/: data endpoints in the ``api`` namespace, plus the public
schema (``schema``), its interactive docs (``api-docs``) and the root (``api-root``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import ad_results
from .views import briefs, drafts, health, model_versions, people, projects, reviews, training

api_patterns: list[URLPattern | URLResolver] = [
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/briefs/", briefs.ProjectBriefsView.as_view(),
         name="project-briefs"),
    path("briefs/<int:brief_id>/", briefs.BriefDetailView.as_view(), name="brief-detail"),
    path("briefs/<int:brief_id>/regenerate/", briefs.BriefRegenerateView.as_view(),
         name="brief-regenerate"),
    path("drafts/", drafts.DraftListView.as_view(), name="draft-list"),
    path("drafts/bulk-review/", reviews.DraftBulkReviewView.as_view(), name="draft-bulk-review"),
    path("drafts/<int:draft_id>/", drafts.DraftDetailView.as_view(), name="draft-detail"),
    path("drafts/<int:draft_id>/claim/", drafts.DraftClaimView.as_view(), name="draft-claim"),
    path("drafts/<int:draft_id>/release/", drafts.DraftReleaseView.as_view(),
         name="draft-release"),
    path("drafts/<int:draft_id>/approve/", reviews.DraftApproveView.as_view(),
         name="draft-approve"),
    path("drafts/<int:draft_id>/reject/", reviews.DraftRejectView.as_view(), name="draft-reject"),
    path("drafts/<int:draft_id>/edit/", reviews.DraftEditView.as_view(), name="draft-edit"),
    path("drafts/<int:draft_id>/assign/", people.DraftAssignView.as_view(), name="draft-assign"),
    path("briefs/<int:brief_id>/assign/", people.BriefAssignView.as_view(), name="brief-assign"),
    path("briefs/<int:brief_id>/approved-copy/", people.ApprovedCopyView.as_view(),
         name="brief-approved-copy"),
    path("projects/<int:project_id>/approved-copy/", people.ApprovedCopyView.as_view(),
         name="project-approved-copy"),
    path("notifications/", people.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read/", people.NotificationReadView.as_view(), name="notification-read"),
    path("drafts/<int:draft_id>/ab-pick/", drafts.DraftAbPickView.as_view(),
         name="draft-ab-pick"),
    path("drafts/<int:draft_id>/ad-results/", ad_results.DraftAdResultsView.as_view(),
         name="draft-ad-results"),
    path("projects/<int:project_id>/training-examples/",
         training.ProjectTrainingExamplesView.as_view(), name="project-training-examples"),
    path("projects/<int:project_id>/training-examples/export/",
         training.TrainingExportView.as_view(), name="project-training-export"),
    path("training-examples/<int:example_id>/exclude/",
         training.TrainingExampleExcludeView.as_view(), name="training-example-exclude"),
    path("projects/<int:project_id>/training-jobs/", training.ProjectTrainingJobsView.as_view(),
         name="project-training-jobs"),
    path("training-jobs/<int:job_id>/", training.TrainingJobDetailView.as_view(),
         name="training-job-detail"),
    path("training-jobs/<int:job_id>/cancel/", training.TrainingJobCancelView.as_view(),
         name="training-job-cancel"),
    path("projects/<int:project_id>/model-versions/", model_versions.ProjectModelVersionsView.as_view(),
         name="project-model-versions"),
    path("projects/<int:project_id>/model-versions/use-base/",
         model_versions.ModelUseBaseView.as_view(), name="model-version-use-base"),
    path("model-versions/<int:version_id>/promote/", model_versions.ModelPromoteView.as_view(),
         name="model-version-promote"),
    path("model-versions/<int:version_id>/rollback/", model_versions.ModelRollbackView.as_view(),
         name="model-version-rollback"),
    path("model-versions/<int:version_id>/check/", model_versions.ModelCheckView.as_view(),
         name="model-version-check"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", health.ApiRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from a second URL: no inline script, so
    # the page works under our CSP (script-src 'self').
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema",
                                                     template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("", include((api_patterns, "api"))),
    re_path(r"^.*$", health.ApiNotFoundView.as_view()),
]
