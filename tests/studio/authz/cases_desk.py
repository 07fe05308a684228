"""Brief desk and review workspace URLs (issue 5) in the authorization matrix."""

from __future__ import annotations

from tests.studio.authz.case import ALL, Case, no_kwargs

REVIEWERS = ("admin", "editor")


def _draft(w):  # type: ignore[no-untyped-def]
    return {"draft_id": w.draft.pk}


def _project(w):  # type: ignore[no-untyped-def]
    return {"project_id": w.project.pk}


HX_WORKSPACE = {"HX-Request": "true", "HX-Target": "workspace"}

CASES: list[Case] = [
    # Brief desk: every member may read and submit.
    Case("brief_desk", _project, ALL),
    Case("brief_desk", _project, ALL, headers={"HX-Request": "true", "HX-Target": "brief-results"}),
    Case("brief_new", _project, ALL),
    Case("brief_new", lambda w: {"project_id": w.project.pk}, ALL, method="post",
         data=lambda w: {"kind": "article", "title": "From the matrix", "variants": 1}),
    Case("brief_detail", lambda w: {"brief_id": w.brief.pk}, ALL),
    # Picking the A/B variants that run: marketers and admins (README).
    Case("draft_ab_pick", _draft, ("admin", "marketer"), method="post",
         data=lambda w: {"picked": "1"}),
    # Review workspace: editors and admins.
    Case("review_queue", no_kwargs, REVIEWERS, tenant_scoped=False),
    Case("review_bulk", no_kwargs, REVIEWERS, method="post", tenant_scoped=False,
         data=lambda w: {"drafts": [f"{w.draft.pk}:{w.draft.version}"], "action": "approve"}),
    Case("project_review_queue", _project, REVIEWERS),
    Case("draft_review", _draft, REVIEWERS),
    Case("draft_review", _draft, REVIEWERS, headers=HX_WORKSPACE),
    Case("draft_claim", _draft, REVIEWERS, method="post", headers={"HX-Request": "true"}),
    Case("draft_claim", _draft, REVIEWERS, method="post"),
    Case("draft_approve", _draft, REVIEWERS, method="post",
         data=lambda w: {"version": w.draft.version}),
    Case("draft_approve", _draft, REVIEWERS, method="post", headers=HX_WORKSPACE,
         data=lambda w: {"version": w.draft.version, "text": "Edited by the matrix."}),
    Case("draft_reject", _draft, REVIEWERS, method="post",
         data=lambda w: {"version": w.draft.version, "reason_tags": ["tone"]}),
    Case("draft_save", _draft, REVIEWERS, method="post",
         data=lambda w: {"version": w.draft.version, "text": "A saved edit."}),
    Case("draft_diff", _draft, REVIEWERS, method="post", data=lambda w: {"text": "New words."}),
]
