"""URLs of the brief desk (marketers) and the review workspace (editors)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from studio.views import ad_results, briefs, handoff, review

urlpatterns: list[URLPattern | URLResolver] = [
    # Brief desk
    path("projects/<int:project_id>/briefs/", briefs.brief_desk, name="brief_desk"),
    path("projects/<int:project_id>/briefs/new/", briefs.brief_new, name="brief_new"),
    path("briefs/<int:brief_id>/", briefs.brief_detail, name="brief_detail"),
    path("briefs/<int:brief_id>/approved.<str:fmt>", handoff.brief_export, name="brief_export"),
    path("projects/<int:project_id>/approved.<str:fmt>", handoff.project_export,
         name="project_export"),
    path("drafts/<int:draft_id>/ab-pick/", briefs.draft_ab_pick, name="draft_ab_pick"),
    path("briefs/<int:brief_id>/ab-results/", ad_results.brief_ab_results,
         name="brief_ab_results"),
    path("briefs/<int:brief_id>/ab-results/report/", ad_results.brief_ab_report,
         name="brief_ab_report"),
    # Review workspace
    path("review/", review.review_queue_page, name="review_queue"),
    path("review/bulk/", review.review_bulk, name="review_bulk"),
    path("review/assign/", review.review_assign, name="review_assign"),
    path("drafts/<int:draft_id>/presence/", review.draft_presence, name="draft_presence"),
    path("drafts/<int:draft_id>/assign/", review.draft_assign_view, name="draft_assign"),
    path("briefs/<int:brief_id>/assign/", review.brief_assign_view, name="brief_assign"),
    path("projects/<int:project_id>/review/", review.project_review_queue,
         name="project_review_queue"),
    path("drafts/<int:draft_id>/review/", review.draft_review, name="draft_review"),
    path("drafts/<int:draft_id>/claim/", review.draft_claim_page, name="draft_claim"),
    path("drafts/<int:draft_id>/approve/", review.draft_approve, name="draft_approve"),
    path("drafts/<int:draft_id>/reject/", review.draft_reject, name="draft_reject"),
    path("drafts/<int:draft_id>/save/", review.draft_save, name="draft_save"),
    path("drafts/<int:draft_id>/diff/", review.draft_diff, name="draft_diff"),
]
