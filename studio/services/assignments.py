"""Who reviews what: drafts and whole briefs assigned by hand, or round-robin per project.

An assignment says whose queue a draft is in ("my queue", "unassigned"); it does not
lock the draft (the review claim does). A brief's assignee also gets the drafts of its
later jobs (regenerate). Rules: ``permissions.assignment_check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from studio.models import Brief, Draft, GenerationJob, Membership, Project, Role
from studio.permissions import (
    Need,
    assignment_check,
    brief_for_user,
    draft_for_user,
    drafts_visible_to,
    reviewers_of,
)
from studio.services.audit import audit_record
from studio.services.errors import Refused


def _assignee(team_id: int, assignee_id: int | None) -> Any:
    if assignee_id is None:
        return None
    assignee = reviewers_of(team_id).filter(pk=assignee_id).first()
    if assignee is None:
        raise Refused("Drafts can be assigned only to an editor or admin of this team.",
                      field="assignee")
    return assignee


def draft_assign(*, user: Any, draft_id: object, assignee_id: int | None) -> Draft:
    """Assign one pending draft to ``assignee_id`` (None: unassign)."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    return drafts_assign(user=user, draft_ids=[draft.pk], assignee_id=assignee_id)[0].draft


@dataclass(frozen=True)
class AssignResult:
    draft: Draft
    changed: bool


def drafts_assign(
    *, user: Any, draft_ids: list[int], assignee_id: int | None
) -> list[AssignResult]:
    """Assign the user's visible pending drafts among ``draft_ids`` (others are left out
    of the answer); one audit row per changed draft."""
    with transaction.atomic():
        drafts = list(
            drafts_visible_to(user).filter(pk__in=draft_ids, status=Draft.Status.PENDING)
            .select_related("project__team").select_for_update(of=("self",)).order_by("pk")
        )
        results = []
        for draft in drafts:
            assignment_check(user, draft.project.team_id, assignee_id=assignee_id,
                             current=[draft.assigned_to_id])
            assignee = _assignee(draft.project.team_id, assignee_id)
            before = draft.assigned_to_id
            changed = before != assignee_id
            if changed:
                draft.assigned_to = assignee
                draft.save(update_fields=["assigned_to"])
                audit_record(actor=user, team=draft.project.team, verb="draft.assign", obj=draft,
                             before={"assigned_to": before}, after={"assigned_to": assignee_id})
            results.append(AssignResult(draft=draft, changed=changed))
    return results


def brief_assign(*, user: Any, brief_id: object, assignee_id: int | None) -> Brief:
    """Assign a whole brief: its pending drafts now, and the drafts of its later jobs."""
    brief = brief_for_user(user, brief_id, need=Need.REVIEW)
    with transaction.atomic():
        brief = Brief.objects.select_for_update(of=("self",)).select_related(
            "project__team").get(pk=brief.pk)
        pending = Draft.objects.filter(job__brief=brief, status=Draft.Status.PENDING)
        current = [brief.assigned_to_id,
                   *pending.values_list("assigned_to_id", flat=True).distinct()]
        assignment_check(user, brief.project.team_id, assignee_id=assignee_id, current=current)
        assignee = _assignee(brief.project.team_id, assignee_id)
        before = brief.assigned_to_id
        brief.assigned_to = assignee
        brief.save(update_fields=["assigned_to", "updated_at"])
        moved = pending.exclude(assigned_to_id=assignee_id).update(assigned_to=assignee)
        audit_record(actor=user, team=brief.project.team, verb="brief.assign", obj=brief,
                     before={"assigned_to": before},
                     after={"assigned_to": assignee_id, "drafts": moved})
    return brief


def job_assignee(*, job: GenerationJob) -> int | None:
    """Whom a job's new drafts go to: the brief's assignee, else with the project's
    round-robin on the next editor after the last one given a job (admins only when
    the team has no editor). Locks the project row; call inside the saving transaction."""
    brief = job.brief
    if brief.assigned_to_id is not None:
        return brief.assigned_to_id
    project = Project.objects.select_for_update(of=("self",)).only(
        "id", "team_id", "auto_assign", "assign_cursor").get(pk=brief.project_id)
    if not project.auto_assign:
        return None
    members = Membership.objects.filter(team_id=project.team_id).order_by("user_id")
    ids = (list(members.filter(role=Role.EDITOR).values_list("user_id", flat=True))
           or list(members.filter(role=Role.ADMIN).values_list("user_id", flat=True)))
    if not ids:
        return None
    cursor = project.assign_cursor or 0
    chosen = next((pk for pk in ids if pk > cursor), ids[0])
    Project.objects.filter(pk=project.pk).update(assign_cursor=chosen)
    return chosen
