"""Assignment, presence, notifications and hand-off URLs in the authorization matrix."""

from __future__ import annotations

from tests.studio.authz.case import ALL, Case, no_kwargs

REVIEWERS = ("admin", "editor")


def _draft(w):  # type: ignore[no-untyped-def]
    return {"draft_id": w.draft.pk}


def _brief(w):  # type: ignore[no-untyped-def]
    return {"brief_id": w.brief.pk}


def _project(w):  # type: ignore[no-untyped-def]
    return {"project_id": w.project.pk}


def _to_editor(w):  # type: ignore[no-untyped-def]
    return {"assignee": w.editor.pk}


CASES: list[Case] = [
    # Assignment: editors take drafts for themselves, admins give them to anyone.
    Case("draft_assign", _draft, REVIEWERS, method="post", data=_to_editor),
    Case("brief_assign", _brief, REVIEWERS, method="post", data=_to_editor),
    Case("review_assign", no_kwargs, REVIEWERS, method="post", tenant_scoped=False,
         data=lambda w: {"drafts": [f"{w.draft.pk}:{w.draft.version}"],
                         "assignee": w.editor.pk}),
    Case("api:draft-assign", _draft, REVIEWERS, method="post", data=_to_editor),
    Case("api:brief-assign", _brief, REVIEWERS, method="post", data=_to_editor),
    Case("draft_presence", _draft, REVIEWERS, method="post"),
    # Hand-off: every member may take approved copy.
    Case("brief_export", lambda w: {"brief_id": w.brief.pk, "fmt": "csv"}, ALL),
    Case("project_export", lambda w: {"project_id": w.project.pk, "fmt": "md"}, ALL),
    Case("api:brief-approved-copy", _brief, ALL),
    Case("api:project-approved-copy", _project, ALL),
    # Notifications: one's own, whatever the role.
    Case("notifications", no_kwargs, ALL, tenant_scoped=False),
    Case("notification_bell", no_kwargs, ALL, tenant_scoped=False),
    Case("notification_read", no_kwargs, ALL, method="post", tenant_scoped=False),
    Case("notification_settings", no_kwargs, ALL, tenant_scoped=False),
    Case("notification_settings", no_kwargs, ALL, method="post", tenant_scoped=False,
         data=lambda w: {"decision:in_app": "on"}),
    Case("api:notification-list", no_kwargs, ALL, tenant_scoped=False),
    Case("api:notification-read", no_kwargs, ALL, method="post", tenant_scoped=False),
]
