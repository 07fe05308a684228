"""Preference notes: proposals mined from the project's edits, the notes in force, and
the project's voice with them (what the prompt and the checks follow).

Proposals are not stored: they are mined on request (``generation.notes``) from the
newest approvals with edits, and those an admin already decided are left out.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from generation.notes import NoteProposal, note_key, propose_notes
from studio.models import PreferenceNote, Project, ReviewAction
from studio.permissions import drafts_visible_to

# The newest approvals with edits that proposals are mined from: a few hundred are
# enough to see habits, and keep mining to milliseconds.
MINED_EDITS = 500
MIN_DRAFTS = 2


def preference_notes_of(project: Project) -> QuerySet[PreferenceNote]:
    return PreferenceNote.objects.filter(project=project).select_related("decided_by")


def accepted_notes(project: Project) -> QuerySet[PreferenceNote]:
    return PreferenceNote.objects.filter(project=project,
                                         status=PreferenceNote.Status.ACCEPTED).order_by("pk")


def note_proposals(user: Any, *, project: Project, include_decided: bool = False
                   ) -> list[NoteProposal]:
    """What the project's editors keep changing (in at least ``MIN_DRAFTS`` drafts),
    most frequent first, without the proposals an admin accepted or dismissed. Two
    queries."""
    edits = (drafts_visible_to(user)
             .filter(project=project, decision=ReviewAction.APPROVE_EDITED)
             .order_by("-decided_at", "-pk").values_list("pk", "text", "current_text")
             [:MINED_EDITS])
    proposals = propose_notes(edits, min_count=MIN_DRAFTS)
    if include_decided:
        return proposals
    decided = {note_key(kind, before, after) for kind, before, after in
               PreferenceNote.objects.filter(project=project)
               .values_list("kind", "proposed_before", "proposed_after")}
    return [p for p in proposals if p.key not in decided]


def project_voice(project: Project) -> dict[str, Any]:
    """The project's brand voice, style rules (its own lines, then its accepted notes'
    lines) and banned terms: what a generation job's prompt and checks follow."""
    must, must_not = list(project.must_rules), list(project.must_not_rules)
    for note in accepted_notes(project):
        note_must, note_must_not = note.rules
        must += [rule for rule in note_must if rule not in must]
        must_not += [rule for rule in note_must_not if rule not in must_not]
    return {"brand_voice": project.brand_voice, "must": must, "must_not": must_not,
            "banned_terms": project.banned_term_list}
