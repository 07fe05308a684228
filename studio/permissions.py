"""Who may see and do what: the one place tenancy and roles are decided.

Two kinds of question, as in wagtail's permission policies:

* ``<thing>_for_user(user, id, need=...)`` — may this user touch this row? Returns the
  row, raises ``Http404`` when the user is not a member of the row's team (an outsider
  learns nothing, not even that the id exists) and ``PermissionDenied`` (403) when
  they are a member whose role lacks the need.
* ``<things>_visible_to(user)`` — which rows may this user see? Every list in the site
  and the API starts from one of these querysets.

Membership is read from the database on every call, so a removed member's old
session is refused at once.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from studio.models import (
    Brief,
    Draft,
    GenerationJob,
    KnowledgeDocument,
    Membership,
    ModelVersion,
    Project,
    Role,
    Team,
    TrainingExample,
    TrainingJob,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


class Need(enum.Enum):
    VIEW = "view"  # read the team's projects, briefs, drafts, versions
    SUBMIT = "submit"  # create briefs, regenerate or cancel a run
    AB_TEST = "ab_test"  # pick A/B variants, report their results (README: marketers, admins)
    REVIEW = "review"  # approve, edit, reject drafts
    ADMIN = "admin"  # project settings, members, training, promote and roll back
    KNOWLEDGE = "knowledge"  # add, edit and delete a project's documents and facts


ROLE_NEEDS: dict[str, frozenset[Need]] = {
    Role.ADMIN: frozenset(Need),
    Role.EDITOR: frozenset({Need.VIEW, Need.SUBMIT, Need.REVIEW}),
    Role.MARKETER: frozenset({Need.VIEW, Need.SUBMIT, Need.AB_TEST, Need.KNOWLEDGE}),
}


def role_allows(role: str | None, need: Need) -> bool:
    return role is not None and need in ROLE_NEEDS.get(role, frozenset())


def role_in(user: AnyUser, team_id: int) -> str | None:
    """The user's role in the team, or None for an outsider (or anonymous user)."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user_id=user.pk, team_id=team_id)
        .values_list("role", flat=True)
        .first()
    )


def _check(user: AnyUser, team_id: int, need: Need) -> str:
    role = role_in(user, team_id)
    if role is None:
        raise Http404("Not found")
    if not role_allows(role, need):
        raise PermissionDenied(f"Your role ({role}) does not allow this")
    return role


def _get(qs: QuerySet[Any], pk: object) -> Any:
    try:
        return qs.get(pk=int(str(pk)))
    except (ValueError, TypeError, qs.model.DoesNotExist) as exc:
        raise Http404("Not found") from exc


# Teams ---------------------------------------------------------------------------


def teams_visible_to(user: AnyUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user_id=user.pk)


def teams_allowing(user: AnyUser, need: Need) -> QuerySet[Team]:
    """The teams in which the user's role allows ``need``."""
    if not user.is_authenticated:
        return Team.objects.none()
    roles = [role for role, needs in ROLE_NEEDS.items() if need in needs]
    return Team.objects.filter(memberships__user_id=user.pk, memberships__role__in=roles)


def team_for_user(user: AnyUser, team_id: object, *, need: Need = Need.VIEW) -> Team:
    team = _get(Team.objects.all(), team_id)
    _check(user, team.pk, need)
    return team


# Projects ------------------------------------------------------------------------


def projects_visible_to(user: AnyUser) -> QuerySet[Project]:
    return Project.objects.filter(team__in=teams_visible_to(user))


def project_for_user(user: AnyUser, project_id: object, *, need: Need = Need.VIEW) -> Project:
    project = _get(Project.objects.select_related("team", "live_model"), project_id)
    _check(user, project.team_id, need)
    return project


# Briefs, jobs, drafts --------------------------------------------------------------


def briefs_visible_to(user: AnyUser) -> QuerySet[Brief]:
    return Brief.objects.filter(project__team__in=teams_visible_to(user))


def brief_for_user(user: AnyUser, brief_id: object, *, need: Need = Need.VIEW) -> Brief:
    brief = _get(Brief.objects.select_related("project__team", "author"), brief_id)
    _check(user, brief.project.team_id, need)
    return brief


def generation_jobs_visible_to(user: AnyUser) -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(brief__project__team__in=teams_visible_to(user))


def generation_job_for_user(
    user: AnyUser, job_id: object, *, need: Need = Need.VIEW
) -> GenerationJob:
    """A generation job of the user's team (404 otherwise); ``need`` SUBMIT to cancel it."""
    job = _get(GenerationJob.objects.select_related("brief__project__team"), job_id)
    _check(user, job.brief.project.team_id, need)
    return job


def drafts_visible_to(user: AnyUser) -> QuerySet[Draft]:
    return Draft.objects.filter(project__team__in=teams_visible_to(user))


def draft_for_user(user: AnyUser, draft_id: object, *, need: Need = Need.VIEW) -> Draft:
    draft = _get(Draft.objects.select_related("project__team", "job__brief"), draft_id)
    _check(user, draft.project.team_id, need)
    return draft


# Knowledge -------------------------------------------------------------------------


def knowledge_visible_to(user: AnyUser) -> QuerySet[KnowledgeDocument]:
    return KnowledgeDocument.objects.filter(project__team__in=teams_visible_to(user))


def knowledge_document_for_user(
    user: AnyUser, document_id: object, *, need: Need = Need.VIEW
) -> KnowledgeDocument:
    document = _get(KnowledgeDocument.objects.select_related("project__team"), document_id)
    _check(user, document.project.team_id, need)
    return document


# Training and models ---------------------------------------------------------------


def examples_visible_to(user: AnyUser) -> QuerySet[TrainingExample]:
    return TrainingExample.objects.filter(project__team__in=teams_visible_to(user))


def training_jobs_visible_to(user: AnyUser) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(project__team__in=teams_visible_to(user))


def training_job_for_user(
    user: AnyUser, job_id: object, *, need: Need = Need.VIEW
) -> TrainingJob:
    job = _get(TrainingJob.objects.select_related("project"), job_id)
    _check(user, job.project.team_id, need)
    return job


def versions_visible_to(user: AnyUser) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(project__team__in=teams_visible_to(user))


def version_for_user(user: AnyUser, version_id: object, *, need: Need = Need.VIEW) -> ModelVersion:
    version = _get(ModelVersion.objects.select_related("project"), version_id)
    _check(user, version.project.team_id, need)
    return version


def membership_for_user(
    user: AnyUser, membership_id: object, *, need: Need = Need.ADMIN
) -> Membership:
    membership = _get(Membership.objects.select_related("team", "user"), membership_id)
    _check(user, membership.team_id, need)
    return membership


# Assignment ------------------------------------------------------------------------


def reviewers_of(team_id: int) -> QuerySet[Any]:
    """The team's members whose role may review: who drafts can be assigned to."""
    from django.contrib.auth import get_user_model

    roles = [role for role, needs in ROLE_NEEDS.items() if Need.REVIEW in needs]
    return get_user_model().objects.filter(
        memberships__team_id=team_id, memberships__role__in=roles
    ).order_by("username")


def assignment_check(
    user: AnyUser, team_id: int, *, assignee_id: int | None, current: list[int | None]
) -> None:
    """May ``user`` give rows now assigned to ``current`` to ``assignee_id`` (None: to
    nobody)? Admins assign to anyone; editors take unassigned rows (or their own) for
    themselves and give their own back; marketers cannot (403). Outsiders get 404."""
    role = _check(user, team_id, Need.REVIEW)
    if role == Role.ADMIN:
        return
    if assignee_id in (None, user.pk) and all(c in (None, user.pk) for c in current):
        return
    raise PermissionDenied("Editors take drafts for themselves; only an admin assigns "
                           "them to others or takes them from someone.")


def assignees_for(user: AnyUser, team_id: int) -> list[Any]:
    """Whom ``user`` may assign to in the team: every reviewer (admins), themself (editors)."""
    role = role_in(user, team_id)
    if role == Role.ADMIN:
        return list(reviewers_of(team_id).only("id", "username"))
    if role_allows(role, Need.REVIEW):
        return [user]
    return []
