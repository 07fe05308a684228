"""The REST API under /api/: data endpoints in the ``api`` namespace, plus the public
schema (``schema``), its interactive docs (``api-docs``) and the root (``api-root``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import ad_results, views

api_patterns: list[URLPattern | URLResolver] = [
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/briefs/", views.ProjectBriefsView.as_view(),
         name="project-briefs"),
    path("briefs/<int:brief_id>/", views.BriefDetailView.as_view(), name="brief-detail"),
    path("briefs/<int:brief_id>/regenerate/", views.BriefRegenerateView.as_view(),
         name="brief-regenerate"),
    path("drafts/", views.DraftListView.as_view(), name="draft-list"),
    path("drafts/bulk-review/", views.DraftBulkReviewView.as_view(), name="draft-bulk-review"),
    path("drafts/<int:draft_id>/", views.DraftDetailView.as_view(), name="draft-detail"),
    path("drafts/<int:draft_id>/claim/", views.DraftClaimView.as_view(), name="draft-claim"),
    path("drafts/<int:draft_id>/release/", views.DraftReleaseView.as_view(),
         name="draft-release"),
    path("drafts/<int:draft_id>/approve/", views.DraftApproveView.as_view(),
         name="draft-approve"),
    path("drafts/<int:draft_id>/reject/", views.DraftRejectView.as_view(), name="draft-reject"),
    path("drafts/<int:draft_id>/edit/", views.DraftEditView.as_view(), name="draft-edit"),
    path("drafts/<int:draft_id>/ab-pick/", views.DraftAbPickView.as_view(),
         name="draft-ab-pick"),
    path("drafts/<int:draft_id>/ad-results/", ad_results.DraftAdResultsView.as_view(),
         name="draft-ad-results"),
    path("projects/<int:project_id>/training-examples/",
         views.ProjectTrainingExamplesView.as_view(), name="project-training-examples"),
    path("projects/<int:project_id>/training-examples/export/",
         views.TrainingExportView.as_view(), name="project-training-export"),
    path("training-examples/<int:example_id>/exclude/",
         views.TrainingExampleExcludeView.as_view(), name="training-example-exclude"),
    path("projects/<int:project_id>/training-jobs/", views.ProjectTrainingJobsView.as_view(),
         name="project-training-jobs"),
    path("training-jobs/<int:job_id>/", views.TrainingJobDetailView.as_view(),
         name="training-job-detail"),
    path("training-jobs/<int:job_id>/cancel/", views.TrainingJobCancelView.as_view(),
         name="training-job-cancel"),
    path("projects/<int:project_id>/model-versions/", views.ProjectModelVersionsView.as_view(),
         name="project-model-versions"),
    path("projects/<int:project_id>/model-versions/use-base/",
         views.ModelUseBaseView.as_view(), name="model-version-use-base"),
    path("model-versions/<int:version_id>/promote/", views.ModelPromoteView.as_view(),
         name="model-version-promote"),
    path("model-versions/<int:version_id>/rollback/", views.ModelRollbackView.as_view(),
         name="model-version-rollback"),
    path("model-versions/<int:version_id>/check/", views.ModelCheckView.as_view(),
         name="model-version-check"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from a second URL: no inline script, so
    # the page works under our CSP (script-src 'self').
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema",
                                                     template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("", include((api_patterns, "api"))),
    re_path(r"^.*$", views.ApiNotFoundView.as_view()),
]
