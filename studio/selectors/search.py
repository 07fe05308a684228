"""Text search for lists: PostgreSQL full-text where it works, substring matching where not.

PostgreSQL: words are matched as prefixes (``roa`` finds "roast") with the ``simple``
configuration (no stemming, any language), over the same expressions as the GIN indexes
of migration 0018. Chinese, Japanese and Korean text has no spaces between words, which
``simple`` cannot split, so a query with such characters is matched as a substring, as
everything is on SQLite.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

# Han, kana, hangul and their compatibility forms: scripts written without spaces.
_UNSPACED = re.compile(
    "[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)
# Letters and digits of any script; everything else (punctuation, tsquery operators)
# separates words, so no query text ever reaches to_tsquery as syntax.
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 12


def full_text_ok(q: str) -> bool:
    """Whether PostgreSQL's full-text search can answer ``q`` (else: substring)."""
    return connection.vendor == "postgresql" and not _UNSPACED.search(q)


def _tsquery(q: str) -> Any:
    from django.contrib.postgres.search import SearchQuery

    words = _WORD.findall(q.lower())[:MAX_WORDS]
    return SearchQuery(" & ".join(f"{w}:*" for w in words), config="simple", search_type="raw")


def _vector(*fields: str) -> Any:
    from django.contrib.postgres.search import SearchVector

    # Exactly the indexed expression (migration 0018), so the GIN index is used.
    return SearchVector(*fields, config="simple")


def search_q(q: str, *, fields: tuple[str, ...]) -> Q:
    """A substring match of ``q`` in any of ``fields`` (case-insensitive)."""
    match = Q()
    for name in fields:
        match |= Q(**{f"{name}__icontains": q})
    return match


def _matching(qs: QuerySet[Any], q: str, *, fields: tuple[str, ...]
              ) -> tuple[QuerySet[Any], Q]:
    """``qs`` ready for the returned condition: ``fields`` (of the row itself) hold ``q``."""
    if full_text_ok(q):
        if not _WORD.search(q):  # punctuation only: nothing to look for
            return qs, Q(pk__in=[])
        return qs.alias(_search=_vector(*fields)), Q(_search=_tsquery(q))
    return qs, search_q(q, fields=fields)


BRIEF_SEARCH_FIELDS = ("title", "instructions")
DRAFT_SEARCH_FIELDS = ("current_text",)


# Up to this many matches the queue is read from the matches themselves; beyond, by
# walking the queue's order and keeping the rows that match.
SPARSE_MATCHES = 2000


def drafts_matching(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    """Drafts of ``qs`` whose text, or whose brief's title or instructions, hold ``q``.

    PostgreSQL guesses that a prefix query matches one row, whatever the truth, so the
    plan is chosen here, with one probe query (from the GIN indexes): few matches (at
    most ``SPARSE_MATCHES``) are listed by id and the page is read from them; many are
    hashed once (two ``IN`` subqueries under one OR) and probed as the queue's order is
    walked, which stops when the page is full. A semi-join planned on the guess of one
    row took minutes at 100,000 drafts, and a per-row test made PostgreSQL sort every
    match before the first page."""
    from studio.models import Brief

    briefs, brief_match = _matching(Brief.objects.all(), q, fields=BRIEF_SEARCH_FIELDS)
    scoped, draft_match = _matching(qs, q, fields=DRAFT_SEARCH_FIELDS)
    by_text = scoped.filter(draft_match).order_by().values_list("pk", flat=True)
    by_brief = qs.filter(job__brief_id__in=briefs.filter(brief_match).values("pk")
                         ).order_by().values_list("pk", flat=True)
    # UNION ALL streams and stops at the limit (a plain UNION would first read every
    # match to drop duplicates); a draft found by both halves is counted twice here,
    # which at worst sends a sparse search down the other, also correct, path.
    probe = list(by_text.union(by_brief, all=True)[: SPARSE_MATCHES + 1])
    if len(probe) <= SPARSE_MATCHES:
        return qs.filter(pk__in=set(probe))
    # Many matches: two IN subqueries under one OR (draft ids on both sides, so the OR
    # needs no join): hashed once, probed as the queue's order is walked.
    return qs.filter(Q(pk__in=by_text.values("pk")) | Q(pk__in=by_brief.values("pk")))


def briefs_matching(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    """Briefs of ``qs`` whose title or instructions, or one of whose drafts, hold ``q``."""
    from studio.models import Draft

    # Two IN subqueries under one OR, for the reason drafts_matching gives; the drafts
    # read are those of the listed briefs' projects.
    scoped, brief_match = _matching(qs, q, fields=BRIEF_SEARCH_FIELDS)
    drafts, draft_match = _matching(
        Draft.objects.filter(project_id__in=qs.order_by().values("project_id")), q,
        fields=DRAFT_SEARCH_FIELDS)
    by_text = scoped.filter(brief_match).order_by().values("pk")
    by_draft = drafts.filter(draft_match).order_by().values("job__brief_id")
    return qs.filter(Q(pk__in=by_text) | Q(pk__in=by_draft))
