"""Preference notes: an admin accepts (maybe after editing), edits or dismisses them.

An accepted note acts as style rules at once (``studio.selectors.notes.project_voice``):
the next generation job's prompt and checks carry it, before any retrain. A note that
asks for one of the project's banned terms, or for a phrase its style rules forbid, is
refused with the reason (``generation.notes.note_conflict``); nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from generation.notes import note_conflict, note_key, note_problem, one_line
from studio.models import PreferenceNote, Project
from studio.permissions import Need, project_for_user
from studio.selectors.notes import accepted_notes, note_proposals
from studio.services.audit import audit_record
from studio.services.errors import Refused

DECISIONS = ("accept", "dismiss")


def _check_note(*, project: Project, kind: str, before: str, after: str,
                ignore: int | None = None) -> tuple[str, str]:
    problems = note_problem(kind, before, after)
    if problems:
        raise ValidationError(problems)
    before, after = one_line(before), one_line(after)
    must_not = list(project.must_not_rules)
    others = accepted_notes(project)
    if ignore is not None:
        others = others.exclude(pk=ignore)
    for note in others:
        must_not += note.rules[1]
    conflict = note_conflict(kind, before, after, banned_terms=project.banned_term_list,
                             must_not=must_not)
    if conflict:
        raise Refused(conflict, field="after")
    return before, after


def note_decide(*, user: Any, project_id: object, decision: str, kind: str,
                proposed_before: str, proposed_after: str, before: str | None = None,
                after: str | None = None) -> PreferenceNote:
    """Accept (with ``before``/``after`` as edited, by default as proposed) or dismiss one
    of the project's current proposals, named by its kind and proposed texts."""
    project = project_for_user(user, project_id, need=Need.ADMIN)
    if decision not in DECISIONS:
        raise ValidationError({"decision": "Choose accept or dismiss."})
    key = note_key(kind, proposed_before, proposed_after)
    proposal = next((p for p in note_proposals(user, project=project, include_decided=True)
                     if p.key == key), None)
    if proposal is None:
        raise Refused("That proposal is not among the project's current ones (its edits "
                      "may have changed); reload the page.")
    status = PreferenceNote.Status.ACCEPTED
    if decision == "dismiss":
        status = PreferenceNote.Status.DISMISSED
        before, after = proposal.before, proposal.after
    else:
        before, after = _check_note(
            project=project, kind=proposal.kind,
            before=proposal.before if before is None else before,
            after=proposal.after if after is None else after)
    with transaction.atomic():
        note, created = PreferenceNote.objects.update_or_create(
            project=project, kind=proposal.kind, proposed_before=proposal.before,
            proposed_after=proposal.after,
            defaults={"before": before, "after": after, "count": proposal.count,
                      "status": status, "decided_by": user},
        )
        audit_record(actor=user, team=project.team, verb=f"note.{decision}", obj=note,
                     after={"kind": note.kind, "before": before, "after": after,
                            "count": proposal.count})
    return note


def note_update(*, user: Any, note_id: object, decision: str, before: str = "",
                after: str = "") -> PreferenceNote:
    """Edit a decided note's texts and accept it (``decision="accept"``), or dismiss it:
    its rules stop at once and its proposal is not made again."""
    try:
        note = PreferenceNote.objects.select_related("project").get(pk=int(str(note_id)))
    except (ValueError, TypeError, PreferenceNote.DoesNotExist) as exc:
        raise Http404("Not found") from exc
    project = project_for_user(user, note.project_id, need=Need.ADMIN)
    if decision not in DECISIONS:
        raise ValidationError({"decision": "Choose accept or dismiss."})
    old = {"status": note.status, "before": note.before, "after": note.after}
    if decision == "accept":
        note.before, note.after = _check_note(project=project, kind=note.kind, before=before,
                                              after=after, ignore=note.pk)
        note.status = PreferenceNote.Status.ACCEPTED
    else:
        note.status = PreferenceNote.Status.DISMISSED
    note.decided_by = user
    with transaction.atomic():
        note.save(update_fields=["before", "after", "status", "decided_by", "decided_at"])
        audit_record(actor=user, team=project.team, verb=f"note.{decision}", obj=note,
                     before=old, after={"status": note.status, "before": note.before,
                                        "after": note.after})
    return note
