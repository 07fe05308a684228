"""Reads for the review workspace: the queue, a draft's neighbours, history and diffs.

The queue is ordered by the brief's deadline (soonest first, briefs without one last),
then by age (oldest first), or by age alone (``order=newest`` / ``oldest``). The
deadline order is read in two index-friendly parts — drafts of briefs with a deadline,
then the rest by age — and every order is paged by keyset (``after=<draft id>``), so a
page costs the same few queries on page 1 and page 4,000 and never counts the whole
queue. ``q`` searches the brief's title and instructions and the draft's text
(``selectors.search``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from generation import checks
from generation.text import CJK_CHARS, WORD_CHAR, unit_strings
from studio.models import Draft, ModelVersion, Project, Review, Team
from studio.models.briefs import kind_choices
from studio.models.reviews import REJECT_REASONS
from studio.permissions import drafts_visible_to, versions_visible_to
from studio.selectors.filters import (
    ORDER_CHOICES,
    PAGE_SIZES,
    SIZE_FIELD,
    FilterField,
    Filters,
    order_field,
    page_size,
    search_field,
)
from studio.selectors.search import drafts_matching

PAGE_SIZE = 25

AGE_CHOICES: dict[str, tuple[str, timedelta]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "old": ("Older than 7 days", timedelta(days=7)),
}

FLAG_LABELS: dict[str, str] = {
    checks.BANNED_TERM: "Banned term",
    checks.STYLE_RULE: "Style rule",
    checks.PERSONAL_EMAIL: "Email address",
    checks.PERSONAL_PHONE: "Phone number",
    checks.PERSONAL_CARD: "Card number",
    checks.NEAR_COPY: "Near-copy",
    checks.NEAR_IDENTICAL: "Near-identical variants",
    checks.EMPTY: "Empty",
    checks.TRUNCATED: "Truncated",
    checks.PERSONAL_ID: "ID number",
    checks.WRONG_LANGUAGE: "Wrong language",
    checks.TRADITIONAL_CHINESE: "Traditional characters",
    checks.SHORTENED: "Shortened",
    checks.UNSUPPORTED_CLAIM: "Unsupported claim",
    checks.PLACEHOLDER: "Placeholder",
    checks.FORBIDDEN_CLAIM: "Forbidden claim",
}
FLAG_CHOICES: dict[str, str] = {"any": "Any flag", "none": "No flags", **FLAG_LABELS}


DRAFT_ORDERINGS = ("created_at", "-created_at", "id", "-id")


# The review queue's filters, on the page and in the API's draft list.
QUEUE_FILTERS: tuple[FilterField, ...] = (
    FilterField("kind", choices=kind_choices),
    FilterField("flag", choices=lambda: list(FLAG_CHOICES), help="A flag code, 'any' or 'none'."),
    FilterField("model", pattern=r"base|\d{1,11}", help="A model version id, or 'base'."),
    FilterField("age", choices=lambda: list(AGE_CHOICES)),
    FilterField("assigned", pattern=r"me|none|\d{1,11}",
                help="'me', 'none' (unassigned) or an editor's user id."),
    search_field("the brief's title and instructions and the draft's text"),
    order_field("deadline"),
    SIZE_FIELD,
)
# The API's draft list adds any status and an ordering (``drafts_listed``).
DRAFT_LIST_FILTERS: tuple[FilterField, ...] = (
    *QUEUE_FILTERS,
    FilterField("status", choices=lambda: Draft.Status.choices),
    FilterField("ordering", choices=lambda: list(DRAFT_ORDERINGS)),
)


@dataclass(frozen=True)
class QueueFilters(Filters):
    """The queue's filters, each checked against its allowlist (``QUEUE_FILTERS``)."""

    FIELDS = QUEUE_FILTERS
    kind: str = ""
    flag: str = ""
    model: str = ""
    age: str = ""
    assigned: str = ""
    q: str = ""
    order: str = ""
    size: str = ""


def _scope(*, user: Any, team: Team | None, project: Project | None) -> QuerySet[Draft]:
    qs = drafts_visible_to(user).filter(status=Draft.Status.PENDING)
    if project is not None:
        return qs.filter(project=project)
    if team is not None:
        return qs.filter(project__team=team)
    return qs.none()


def _filtered(qs: QuerySet[Draft], filters: QueueFilters, user: Any) -> QuerySet[Draft]:
    if filters.assigned == "me":
        qs = qs.filter(assigned_to_id=user.pk)
    elif filters.assigned == "none":
        qs = qs.filter(assigned_to__isnull=True)
    elif filters.assigned:
        qs = qs.filter(assigned_to_id=int(filters.assigned))
    if filters.q:
        qs = drafts_matching(qs, filters.q)
    if filters.kind:
        qs = qs.filter(job__brief__kind=filters.kind)
    if filters.flag == "any":
        qs = qs.exclude(flag_codes=[])
    elif filters.flag == "none":
        qs = qs.filter(flag_codes=[])
    elif filters.flag:
        if connection.vendor == "postgresql":
            qs = qs.filter(flag_codes__contains=[filters.flag])
        else:  # SQLite has no JSON containment; the codes are plain identifiers
            qs = qs.filter(flag_codes__icontains=f'"{filters.flag}"')
    if filters.model == "base":
        qs = qs.filter(job__model_version__isnull=True)
    elif filters.model:
        qs = qs.filter(job__model_version_id=int(filters.model))
    if filters.age:
        cutoff = timezone.now() - AGE_CHOICES[filters.age][1]
        qs = qs.filter(created_at__lt=cutoff) if filters.age == "old" else qs.filter(
            created_at__gte=cutoff
        )
    return qs


def _for_rows(qs: QuerySet[Draft]) -> QuerySet[Draft]:
    # The list never loads whole texts, prompts or params: a snippet is enough.
    return (
        qs.select_related("job__brief", "job__model_version", "project", "claimed_by",
                          "assigned_to")
        .only(
            "id", "variant", "version", "created_at", "flags", "flag_codes", "status",
            "claimed_until", "claimed_by__username", "assigned_to__username",
            "project__name", "project__team_id",
            "job__id", "job__variants", "job__model_version__number",
            "job__brief__id", "job__brief__title", "job__brief__kind", "job__brief__deadline",
        )
        .annotate(snippet=Substr("current_text", 1, 220))
    )


def drafts_listed(
    *, user: Any, filters: QueueFilters, project_id: int | None = None, status: str = "",
    ordering: str = "",
) -> QuerySet[Draft]:
    """The drafts the user may see with the review queue's filters, optionally one
    project's or one status's, as list rows (snippets, not texts), in ``ordering``
    (an allowlisted field, ``-`` for descending; else the filters' ``order``) then by
    id."""
    qs = drafts_visible_to(user)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    if status:
        qs = qs.filter(status=status)
    rows = _for_rows(_filtered(qs, filters, user))
    if not ordering and filters.order == "deadline":
        return rows.order_by(F("job__brief__deadline").asc(nulls_last=True), "created_at", "id")
    ordering = ordering or ("-created_at" if filters.order == "newest" else "created_at")
    return rows.order_by(ordering, "-id" if ordering.startswith("-") else "id")


@dataclass
class QueuePage:
    rows: list[Draft]
    has_next: bool
    after: int | None
    next_after: int | None = None
    filters: QueueFilters = field(default_factory=QueueFilters)


def _anchor(user: Any, draft_id: int | None) -> Draft | None:
    if draft_id is None:
        return None
    # The anchor may have been decided since: read it without the pending filter.
    return (
        drafts_visible_to(user).filter(pk=draft_id)
        .select_related("job__brief")
        .only("id", "created_at", "job__brief__deadline")
        .first()
    )


def _parts(
    qs: QuerySet[Draft], anchor: Draft | None, *, order: str = "", backwards: bool = False
) -> tuple[QuerySet[Draft], QuerySet[Draft]]:
    """The queue after (or before) the anchor as two ordered parts, in walking order.

    By deadline, forwards: drafts of briefs with a deadline, then the rest; backwards:
    the reverse. By age (``newest``, ``oldest``): one part, the second empty.
    """
    if order in ("newest", "oldest"):
        descending = (order == "newest") != backwards
        sign, cmp = ("-", "lt") if descending else ("", "gt")
        by_age = qs.order_by(f"{sign}created_at", f"{sign}id")
        if anchor is not None:
            created, pk = anchor.created_at, anchor.pk
            by_age = by_age.filter(
                Q(**{f"created_at__{cmp}e": created})
                & (Q(**{f"created_at__{cmp}": created}) | Q(created_at=created, **{f"id__{cmp}": pk}))
            )
        return by_age, qs.none()
    sign = "-" if backwards else ""
    due = qs.filter(job__brief__deadline__isnull=False).order_by(
        f"{sign}job__brief__deadline", f"{sign}created_at", f"{sign}id"
    )
    rest = qs.filter(job__brief__deadline__isnull=True).order_by(f"{sign}created_at", f"{sign}id")
    if anchor is None:
        return (rest, due) if backwards else (due, rest)
    cmp = "lt" if backwards else "gt"
    created, pk = anchor.created_at, anchor.pk
    beyond = Q(**{f"created_at__{cmp}": created}) | Q(created_at=created, **{f"id__{cmp}": pk})
    deadline = anchor.job.brief.deadline
    if deadline is None:
        # A bound the index can use, then the exact (created_at, id) comparison.
        rest = rest.filter(Q(**{f"created_at__{cmp}e": created}) & beyond)
        return (rest, due) if backwards else (due.none(), rest)
    due = due.filter(
        Q(**{f"job__brief__deadline__{cmp}": deadline})
        | (Q(job__brief__deadline=deadline) & beyond)
    )
    return (due, rest.none()) if backwards else (due, rest)


def _take(first: QuerySet[Draft], second: QuerySet[Draft], n: int) -> list[Draft]:
    rows = list(first[:n])
    if len(rows) < n:
        rows += list(second[: n - len(rows)])
    return rows


def review_queue(
    *,
    user: Any,
    team: Team | None,
    project: Project | None = None,
    filters: QueueFilters,
    after: int | None = None,
    size: int | None = None,
) -> QueuePage:
    """One page of pending drafts the user may review, after the draft ``after``:
    ``size`` rows, else the filters' page size, else ``PAGE_SIZE``."""
    size = size or page_size(filters.size, PAGE_SIZE)
    scope = _scope(user=user, team=team, project=project)
    first, second = _parts(_for_rows(_filtered(scope, filters, user)), _anchor(user, after),
                           order=filters.order)
    rows = _take(first, second, size + 1)
    has_next = len(rows) > size
    rows = rows[:size]
    return QueuePage(rows=rows, has_next=has_next, after=after,
                     next_after=rows[-1].pk if has_next else None, filters=filters)


def queue_neighbour(
    *,
    user: Any,
    team: Team | None,
    project: Project | None,
    filters: QueueFilters,
    draft_id: int,
    backwards: bool = False,
    unclaimed_only: bool = False,
) -> int | None:
    """The id of the queue's next (or previous) draft after ``draft_id``, if any.

    With ``unclaimed_only`` drafts another editor holds are skipped, and when nothing
    is left after the draft the queue starts again from the top (a draft skipped
    earlier is still waiting).
    """
    scope = _scope(user=user, team=team, project=project)
    qs = _filtered(scope, filters, user).exclude(pk=draft_id)
    if unclaimed_only:
        now = timezone.now()
        qs = qs.filter(Q(claimed_by__isnull=True) | Q(claimed_until__lte=now)
                       | Q(claimed_by=user))
    qs = qs.only("id")
    rows = _take(*_parts(qs, _anchor(user, draft_id), order=filters.order,
                         backwards=backwards), 1)
    if not rows and unclaimed_only and not backwards:
        rows = _take(*_parts(qs, None, order=filters.order), 1)
    return rows[0].pk if rows else None


def queue_filter_options(
    *, user: Any, team: Team | None, project: Project | None
) -> dict[str, Any]:
    versions = versions_visible_to(user)
    versions = versions.filter(project=project) if project else versions.filter(project__team=team)
    return {
        "kinds": kind_choices(),
        "flags": list(FLAG_CHOICES.items()),
        "ages": [(k, label) for k, (label, _) in AGE_CHOICES.items()],
        "orders": list(ORDER_CHOICES.items()),
        "sizes": list(PAGE_SIZES),
        "versions": [
            (str(v.pk), f"{v.project.name} v{v.number}" if project is None else f"v{v.number}")
            for v in versions.select_related("project").order_by("project__name", "-number")[:50]
        ],
        "reasons": list(REJECT_REASONS.items()),
    }


def draft_history(*, draft: Draft) -> list[Review]:
    """Every saved edit and decision on the draft, oldest first."""
    return list(draft.reviews.select_related("reviewer").order_by("draft_version"))


def model_version_label(draft: Draft) -> str:
    version: ModelVersion | None = draft.job.model_version
    return f"v{version.number}" if version else "base model"


# Rendering helpers: every piece of model or editor text goes through escape(). -------

# Words, and single CJK characters (Chinese has no spaces: a sentence is not a word).
_TOKEN = re.compile(rf"\s+|[{CJK_CHARS}]|{WORD_CHAR}+|[^\w\s]", re.UNICODE)


def word_diff(before: str, after: str) -> SafeString:
    """A word-level diff of two texts as HTML with <del> and <ins> around changes.

    Texts are split into words, spaces and punctuation, compared with difflib, and
    every token is escaped before it is wrapped: model or editor text can never become
    markup.
    """
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    parts: list[SafeString] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(format_html("<del>{}</del>", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            parts.append(format_html("<ins>{}</ins>", "".join(b[j1:j2])))
    return format_html_join("", "{}", ((p,) for p in parts))


def diff_stats(before: str, after: str) -> dict[str, int]:
    """Units added and removed between two texts: words, and characters for CJK (the
    same units as lengths and checks, :func:`generation.text.text_units`)."""
    a, b = unit_strings(before), unit_strings(after)
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            removed += i2 - i1
        if op in ("insert", "replace"):
            added += j2 - j1
    return {"added": added, "removed": removed}


def text_with_flag_marks(text: str, flags: list[Any]) -> SafeString:
    """The text with each flag's span wrapped in <mark>, escaped piece by piece."""
    spans = []
    for flag in flags if isinstance(flags, list) else []:
        span = flag.get("span") if isinstance(flag, dict) else None
        if (isinstance(span, list | tuple) and len(span) == 2
                and all(isinstance(x, int) for x in span) and 0 <= span[0] < span[1] <= len(text)):
            spans.append((span[0], span[1], str(flag.get("message", ""))))
    spans.sort()
    parts: list[SafeString] = []
    pos = 0
    for start, end, message in spans:
        if start < pos:  # overlapping spans: keep the first
            continue
        parts.append(escape(text[pos:start]))
        parts.append(format_html('<mark title="{}">{}</mark>', message, text[start:end]))
        pos = end
    parts.append(escape(text[pos:]))
    return format_html_join("", "{}", ((p,) for p in parts))
