"""Approved copy, ready to hand off: per brief or per project, as CSV, Markdown or JSON,
with who approved each text and which model version wrote it.

Cells of the CSV that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) are prefixed with ``'`` (OWASP's advice on CSV
injection): brief and model text is untrusted.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from studio.models import Brief, Draft, Project, Review, ReviewAction
from studio.permissions import drafts_visible_to

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "md": ("text/markdown; charset=utf-8", "md"),
    "json": ("application/json", "json"),
}
COLUMNS = ("brief_id", "brief_title", "kind", "channel", "variant", "draft_id", "text",
           "edited", "approved_by", "approved_at", "model")


@dataclass(frozen=True)
class ApprovedCopy:
    brief_id: int
    brief_title: str
    kind: str
    channel: str
    variant: int
    draft_id: int
    text: str
    edited: bool
    approved_by: str
    approved_at: str
    model: str


def _approvals() -> QuerySet[Review]:
    return Review.objects.filter(
        draft=OuterRef("pk"), action__in=[ReviewAction.APPROVE, ReviewAction.APPROVE_EDITED]
    ).order_by("-created_at", "-id")


def approved_copy(*, user: Any, project: Project | None = None,
                  brief: Brief | None = None) -> list[ApprovedCopy]:
    """The approved drafts of a brief or a project the user may see, brief by brief
    (newest first), variants in order. One query, whatever the count."""
    qs = drafts_visible_to(user).filter(status=Draft.Status.APPROVED)
    if brief is not None:
        qs = qs.filter(job__brief=brief)
    elif project is not None:
        qs = qs.filter(project=project)
    else:
        return []
    rows = (
        qs.select_related("job__brief", "job__model_version")
        .only("id", "variant", "current_text", "text", "decided_at", "job__base_model",
              "job__model_version__number", "job__brief__id", "job__brief__title",
              "job__brief__kind", "job__brief__extra", "job__brief__created_at")
        .annotate(approver=Subquery(_approvals().values("reviewer__username")[:1]),
                  approved_on=Subquery(_approvals().values("created_at")[:1]))
        .order_by("-job__brief__created_at", "-job__brief_id", "job__created_at", "variant")
    )
    out = []
    for d in rows:
        brief_row = d.job.brief
        version = d.job.model_version
        approved_on: datetime | None = d.approved_on  # type: ignore[attr-defined]
        extra = brief_row.extra if isinstance(brief_row.extra, dict) else {}
        out.append(ApprovedCopy(
            brief_id=brief_row.pk, brief_title=brief_row.title, kind=brief_row.kind,
            channel=str(extra.get("channel", "")), variant=d.variant + 1, draft_id=d.pk,
            text=d.current_text, edited=d.current_text != d.text,
            approved_by=d.approver or "",  # type: ignore[attr-defined]
            approved_at=approved_on.isoformat() if approved_on else "",
            model=(f"v{version.number} on {d.job.base_model}" if version
                   else f"base model {d.job.base_model}"),
        ))
    return out


def download_headers(fmt: str, name: str) -> dict[str, str]:
    """Content type and attachment name of a download in ``fmt``."""
    from django.utils.text import slugify

    content_type, ext = FORMATS[fmt]
    filename = f"{slugify(name) or 'copy'}-approved.{ext}"
    return {"Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"'}


def csv_safe(value: object) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_copy(rows: list[ApprovedCopy], fmt: str, *, title: str) -> str:
    """The rows as ``csv``, ``md`` or ``json`` text."""
    if fmt == "json":
        return json.dumps({"title": title, "items": [asdict(r) for r in rows]},
                          ensure_ascii=False, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([csv_safe(getattr(r, c)) for c in COLUMNS])
        return buffer.getvalue()
    lines = [f"# {title}", ""]
    current = None
    for r in rows:
        if r.brief_id != current:
            current = r.brief_id
            lines += [f"## {r.brief_title}", ""]
        by = f", approved by {r.approved_by}" if r.approved_by else ""
        lines += [f"### Variant {r.variant}", "",
                  f"_{r.model}{by}{', edited' if r.edited else ''}_", "", r.text, ""]
    if not rows:
        lines.append("No approved copy yet.")
    return "\n".join(lines) + "\n"
