"""The REST API under /api/: data endpoints in the ``api`` namespace, plus the public
schema (``schema``), its interactive docs (``api-docs``) and the root (``api-root``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

api_patterns: list[URLPattern | URLResolver] = [
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/briefs/", views.ProjectBriefsView.as_view(),
         name="project-briefs"),
    path("briefs/<int:brief_id>/", views.BriefDetailView.as_view(), name="brief-detail"),
    path("briefs/<int:brief_id>/regenerate/", views.BriefRegenerateView.as_view(),
         name="brief-regenerate"),
    path("drafts/", views.DraftListView.as_view(), name="draft-list"),
    path("drafts/<int:draft_id>/", views.DraftDetailView.as_view(), name="draft-detail"),
    path("drafts/<int:draft_id>/approve/", views.DraftApproveView.as_view(),
         name="draft-approve"),
    path("drafts/<int:draft_id>/reject/", views.DraftRejectView.as_view(), name="draft-reject"),
    path("drafts/<int:draft_id>/edit/", views.DraftEditView.as_view(), name="draft-edit"),
    path("drafts/<int:draft_id>/ab-pick/", views.DraftAbPickView.as_view(),
         name="draft-ab-pick"),
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
